import { assert, describe, it } from "@effect/vitest"
import { normalizeEnglish, numberToWords } from "../../src/bark/normalizeEnglish.ts"
import { splitText } from "../../src/bark/text.ts"
import { makeRandom } from "../../src/dev/random.ts"

/** [written, said]: the specification, one shape a row. */
const TABLE: ReadonlyArray<readonly [string, string]> = [
  // the script the service narrates
  ["The 2024 model costs $5.99 — 20% off until Jan. 3rd!",
    "The twenty twenty-four model costs five dollars and ninety-nine cents — twenty percent off until January third!"],

  // cardinals, signs, decimals
  ["I have 0 apples.", "I have zero apples."],
  ["We sold 7 cars and 42 bikes.", "We sold seven cars and forty-two bikes."],
  ["It took 105 days.", "It took one hundred five days."],
  ["A crowd of 1,250 people.", "A crowd of one thousand two hundred fifty people."],
  ["Population: 3,500,000.", "Population: three million five hundred thousand."],
  ["A total of 1,000,000,000 stars.", "A total of one billion stars."],
  ["It has 123456789 rows.", "It has one hundred twenty-three million four hundred fifty-six thousand seven hundred eighty-nine rows."],
  ["It was -3 outside.", "It was minus three outside."],
  ["A +5 bonus.", "A plus five bonus."],
  ["Pi is 3.14 or so.", "Pi is three point one four or so."],
  ["Only 0.5 left.", "Only zero point five left."],
  ["Version 2.0.1 is out.", "Version two point zero point one is out."],
  ["She said 1,2,3 and ran.", "She said one, two, three and ran."],
  ["2 billion people.", "Two billion people."],

  // ordinals
  ["He came 1st, she came 22nd.", "He came first, she came twenty-second."],
  ["The 103rd floor.", "The one hundred third floor."],
  ["Our 100th show.", "Our one hundredth show."],
  ["The 12th man.", "The twelfth man."],

  // years
  ["Born in 1999.", "Born in nineteen ninety-nine."],
  ["Since 2005 we have grown.", "Since two thousand five we have grown."],
  ["In 2024, we moved.", "In twenty twenty-four, we moved."],
  ["Built in 1905.", "Built in nineteen oh five."],
  ["By 1900 it was gone.", "By nineteen hundred it was gone."],
  ["The year 2000 problem.", "The year two thousand problem."],
  ["From 1990 to 1995 it grew.", "From nineteen ninety to nineteen ninety-five it grew."],
  ["Between 2020 and 2024 it grew.", "Between twenty twenty and twenty twenty-four it grew."],
  ["Rome in 500 BC.", "Rome in five hundred BC."],
  ["We fed 2024 people.", "We fed two thousand twenty-four people."],
  ["A total of 2,024 votes.", "A total of two thousand twenty-four votes."],

  // ranges
  ["The war of 1990-1995.", "The war of nineteen ninety to nineteen ninety-five."],
  ["The 1990–95 season.", "The nineteen ninety to ninety-five season."],
  ["Wait 5-10 minutes.", "Wait five to ten minutes."],
  ["They won 3-2.", "They won three to two."],
  ["Open 9am-5pm daily.", "Open nine AM to five PM daily."],
  ["Save 5-10% now.", "Save five to ten percent now."],
  ["It costs $5-$10.", "It costs five dollars to ten dollars."],

  // percentages and fractions
  ["Get 20% off.", "Get twenty percent off."],
  ["Rates fell 3.5 %.", "Rates fell three point five percent."],
  ["Add 1/2 cup.", "Add one half cup."],
  ["Use 3/4 of it.", "Use three quarters of it."],
  ["Cut 2/3 away.", "Cut two thirds away."],
  ["Take 1 1/2 cups.", "Take one and a half cups."],
  ["Drill 5/16 inch holes.", "Drill five sixteenths inch holes."],
  ["Add ½ cup.", "Add one half cup."],
  ["Open 24/7.", "Open twenty-four seven."],

  // times
  ["Meet at 3:30 pm.", "Meet at three thirty PM."],
  ["The train leaves at 10:05.", "The train leaves at ten oh five."],
  ["Lunch is at 12:00.", "Lunch is at twelve o'clock."],
  ["Report at 15:00 sharp.", "Report at fifteen hundred sharp."],
  ["Call at 3 p.m. on Friday.", "Call at three PM on Friday."],
  ["We start at 10 a.m. Dr. Jones will attend.", "We start at ten AM. Doctor Jones will attend."],
  ["The lap took 1:05:30 flat.", "The lap took one oh five and thirty seconds flat."],

  // digit by digit
  ["Call 555-123-4567 now.", "Call five five five, one two three, four five six seven now."],
  ["Call (555) 123-4567 now.", "Call five five five, one two three, four five six seven now."],
  ["Call +44 20 7946 0958 now.", "Call plus four four, two zero, seven nine four six, zero nine five eight now."],
  ["Agent 007 is here.", "Agent zero zero seven is here."],
  ["Account 1234567890 is closed.", "Account one two three four five six seven eight nine zero is closed."],

  // money
  ["It costs $5.", "It costs five dollars."],
  ["Just $1 today.", "Just one dollar today."],
  ["Only $0.99 each.", "Only ninety-nine cents each."],
  ["A fee of $1.01 applies.", "A fee of one dollar and one cent applies."],
  ["They raised $1.5M last year.", "They raised one point five million dollars last year."],
  ["It cost $2 billion.", "It cost two billion dollars."],
  ["A $2 billion deal and a $10k bonus.", "A two billion dollar deal and a ten thousand dollar bonus."],
  ["Tickets are €20.", "Tickets are twenty euros."],
  ["A pint is £3.50.", "A pint is three pounds and fifty pence."],
  ["Noodles for ¥100.", "Noodles for one hundred yen."],
  ["A loss of -$5 today.", "A loss of minus five dollars today."],
  ["Now $1,299.99 only.", "Now one thousand two hundred ninety-nine dollars and ninety-nine cents only."],

  // dates
  ["Until Jan. 3rd!", "Until January third!"],
  ["On January 3, 2024 we met.", "On January third, twenty twenty-four we met."],
  ["On 3 January 2024 we met.", "On the third of January, twenty twenty-four we met."],
  ["On the 3rd of May we met.", "On the third of May we met."],
  ["Released 2024-01-03.", "Released January third, twenty twenty-four."],
  ["Born on 12/25/1990.", "Born on December twenty-fifth, nineteen ninety."],
  ["Since Sept. 11, 2001 things changed.", "Since September eleventh, two thousand one things changed."],
  ["See you in March 2024.", "See you in March twenty twenty-four."],
  ["Back in the 1990s and the '80s.", "Back in the nineteen nineties and the eighties."],

  // abbreviations and titles
  ["Dr. Smith lives on Main St. Then he left.", "Doctor Smith lives on Main Street. Then he left."],
  ["We flew to St. Louis.", "We flew to Saint Louis."],
  ["Mr. and Mrs. Smith came.", "Mister and Missus Smith came."],
  ["Ask Ms. Jones or Prof. Lee.", "Ask Miz Jones or Professor Lee."],
  ["We climbed Mt. Everest.", "We climbed Mount Everest."],
  ["Martin Luther King Jr. spoke.", "Martin Luther King Junior spoke."],
  ["It is us vs. them.", "It is us versus them."],
  ["Apples, pears, etc. are fruit.", "Apples, pears, et cetera are fruit."],
  ["Apples, pears, etc. Then more.", "Apples, pears, et cetera. Then more."],
  ["Fruit, e.g., apples.", "Fruit, for example, apples."],
  ["The best, i.e. ours.", "The best, that is ours."],
  ["It is approx. 5 km away.", "It is approximately five kilometers away."],
  ["She was No. 5 in the race.", "She was number five in the race."],
  ["No. 5 won.", "Number five won."],

  // units
  ["Run 5 km daily.", "Run five kilometers daily."],
  ["Lift 10 kg twice.", "Lift ten kilograms twice."],
  ["Add 3 ft, then 1 ft more.", "Add three feet, then one foot more."],
  ["A 3 ft wall and an 8 km walk.", "A three foot wall and an eight kilometer walk."],
  ["Drive at 60 mph.", "Drive at sixty miles per hour."],
  ["It has 2 GB of memory.", "It has two gigabytes of memory."],
  ["Latency is 100 ms.", "Latency is one hundred milliseconds."],
  ["We ran 5km.", "We ran five kilometers."],
  ["Wait 1.5 min.", "Wait one point five minutes."],
  ["Up to 10-15 km/h.", "Up to ten to fifteen kilometers per hour."],

  // symbols
  ["Tom & Jerry at R&D.", "Tom and Jerry at R and D."],
  ["We know 2 + 2 = 4.", "We know two plus two equals four."],
  ["Meet @ 5 or @home.", "Meet at five or at home."],
  ["We're #1!", "We're number one!"],
  ["It is 20°C today.", "It is twenty degrees Celsius today."],
  ["It was -3 °F.", "It was minus three degrees Fahrenheit."],
  ["Turn it 90° left.", "Turn it ninety degrees left."],
  ["Make a 90° turn.", "Make a ninety degree turn."],
  ["It is 3x faster.", "It is three times faster."],
  ["A 2x4 board.", "A two by four board."],
  ["We saw 3 × 4 = 12.", "We saw three times four equals twelve."],
  ["It is ~5 km away.", "It is about five kilometers away."],
  ["Solve x=5.", "Solve x equals five."],
  ["Take 5 - 3 away.", "Take five - three away."],

  // sentence starts: a capital where a digit or symbol started the sentence
  ["It was great. 5 people came.", "It was great. Five people came."],
  ["$5 is enough.", "Five dollars is enough."]
]

/** Text no rule reads: it comes back as it is, with no change counted. */
const UNCHANGED: ReadonlyArray<string> = [
  "The quick brown fox jumps over the lazy dog.",
  "Hello there, how are you? I am fine, thanks!",
  "No. I won't go. May I stay? March on, Jan said.",
  "Stan and Drake met Dr and St at the shop.",
  "x marks the spot; C++ and Disney+ are names.",
  "Water is H2O, the file is an mp3 and the screen is 4K.",
  "Ça va très bien, merci ! À bientôt.",
  "Straße und Brücke über dem Fluss.",
  "Привет, мир. Как дела?",
  "こんにちは世界。元気ですか？",
  "第3章を読んだ。",
  "مرحبا بالعالم.",
  "A&amp;B stays an entity."
]

const once = (text: string) => normalizeEnglish(text).text

describe("normalizeEnglish", () => {
  it.each(TABLE)("%s", (written, said) => {
    assert.strictEqual(once(written), said)
  })

  it.each(UNCHANGED)("leaves %s as it is", (text) => {
    assert.deepStrictEqual(normalizeEnglish(text), { text, changes: 0 })
  })

  it("counts the spans it rewrote", () => {
    assert.strictEqual(normalizeEnglish(TABLE[0]![0]).changes, 4) // the year, the price, the percentage, the date
    assert.strictEqual(normalizeEnglish("Dr. Smith paid $5.").changes, 2)
    // a range names its dash, then each number is read: three rewrites
    assert.strictEqual(normalizeEnglish("Wait 5-10 minutes.").changes, 3)
  })

  it("is idempotent: normalising the result changes nothing", () => {
    for (const [written] of TABLE) {
      const said = once(written)
      assert.deepStrictEqual(normalizeEnglish(said), { text: said, changes: 0 }, written)
    }
  })

  it("never throws and is idempotent on seeded jumbles of the shapes it reads", () => {
    const pieces = [
      "1", "2", "0", "5", "12", "2024", "1999", "007", "1,250", ",", ".", ":", "/", "-", "–", "$", "€", "£", "¥",
      "%", "°", "C", "F", "x", "×", "#", "~", "&", "+", "=", "@", "st", "nd", "th", "s", "'", " ", "  ", "Dr",
      "St", "Mr", "Mrs", "No", "vs", "etc", "e.g.", "i.e.", "Jan", "May", "January", "of", "the", "in", "km", "m",
      "ft", "pm", "a.m.", "p.m.", "Jr", "Main", "Louis", "\n", "!", "?", "(", ")", "\"", "½", "M", "k", "bn",
      "billion", "BC", "Привет", "世界", "H2O", "A", "to", "and"
    ]
    const random = makeRandom(7)
    for (let i = 0; i < 5_000; i++) {
      let text = ""
      const n = 1 + Math.floor(random.uniform() * 10)
      for (let j = 0; j < n; j++) text += pieces[Math.floor(random.uniform() * pieces.length)]
      const said = once(text)
      assert.strictEqual(once(said), said, JSON.stringify(text))
    }
  })

  it("keeps the sentences the splitter finds, and drops the false break after a title", () => {
    const script = "Dr. Smith paid $5.99 at 3 p.m. Then he left, etc. The end came in 2024."
    const sentences = (text: string) =>
      Array.from(new Intl.Segmenter("en", { granularity: "sentence" }).segment(text), (s) => s.segment.trim())
    assert.deepStrictEqual(sentences(script), ["Dr.", "Smith paid $5.99 at 3 p.m.", "Then he left, etc.", "The end came in 2024."])
    assert.deepStrictEqual(sentences(once(script)), [
      "Doctor Smith paid five dollars and ninety-nine cents at three PM.",
      "Then he left, et cetera.",
      "The end came in twenty twenty-four."
    ])
    // and the splitter's chunks end where those sentences end
    assert.deepStrictEqual(splitText(once(script), { maxWords: 12 }).chunks.map((c) => c.text), [
      "Doctor Smith paid five dollars and ninety-nine cents at three PM.",
      "Then he left, et cetera. The end came in twenty twenty-four."
    ])
  })

  it("finishes a 10,000-word script in well under a second", () => {
    const sentence = "The 2024 model costs $5.99 — 20% off until Jan. 3rd! Dr. Smith ran 5 km at 3:30 pm, e.g. in 1999, etc. "
    const script = sentence.repeat(Math.ceil(10_000 / sentence.split(" ").length))
    const start = performance.now()
    const { text, changes } = normalizeEnglish(script)
    assert.isBelow(performance.now() - start, 1_000)
    assert.isFalse(/\d/.test(text))
    assert.isAbove(changes, 4_000)
  })

  // For each pattern with a quantified group inside a quantifier (the thousands groups of every number
  // with a unit, the digit runs of the last rule, the phone groups), and for each bounded scan, an input
  // that would take quadratic time or worse if the pattern backtracked or the scan did not stop.
  const N = 20_000
  const groups = "1" + ",000".repeat(N)
  const pathological: Record<string, string> = {
    "numbers: thousands groups glued to a letter": `${groups}x`,
    "numbers: one long digit run": "9".repeat(5 * N),
    "numbers: dotted digits": "1.".repeat(N) + "x",
    "numbers and times: colon digits": "12:".repeat(N),
    "fractions and dates: slashed digits": "1 1/".repeat(N),
    "ranges and phones: hyphenated digits": "555-".repeat(N),
    "ranges: thousands groups on both sides": `${groups}-${groups}x`,
    "phone: groups that never end": "+1 " + "22 ".repeat(N),
    "money: thousands groups, then decimals": `$${groups}.5.5k`,
    "money: currency signs": "$".repeat(N) + "5",
    "percent, degrees, units: thousands groups, then a near miss": `${groups} k ${groups} °x ${groups} %`,
    "dimensions: thousands groups on both sides": `${groups}x${groups}y`,
    "ordinals: thousands groups, then a suffix glued to a word": `${groups}stx`,
    "dates: month names without a day": "Jan. ".repeat(N),
    "dates: days before month names": "3 Jan ".repeat(N),
    "titles without a name": "Mr. ".repeat(N),
    "St. after capitalised words": "Aaaa St. ".repeat(N),
    "& before a long word": "&" + "a".repeat(5 * N),
    "years: spaces before the year": "in" + " ".repeat(N) + "1999",
    "periods: spaces after an abbreviation": "etc." + " ".repeat(N) + "x",
    "operators": "a+".repeat(N) + "a = ".repeat(N),
    "decades: apostrophes": "'".repeat(N) + "90s"
  }
  it.each(Object.entries(pathological))("finishes in linear time: %s", (_, text) => {
    const start = performance.now()
    normalizeEnglish(text)
    assert.isBelow(performance.now() - start, 2_000)
  })
})

describe("numberToWords", () => {
  it.each([
    [0, "zero"],
    [13, "thirteen"],
    [21, "twenty-one"],
    [100, "one hundred"],
    [1_001, "one thousand one"],
    [1_250, "one thousand two hundred fifty"],
    [-3, "minus three"],
    [3.14, "three point one four"],
    [2_000_000_000, "two billion"],
    [Number.MAX_SAFE_INTEGER, "nine quadrillion seven trillion one hundred ninety-nine billion two hundred fifty-four million seven hundred forty thousand nine hundred ninety-one"],
    [10n ** 18n, "one quintillion"],
    [-(10n ** 21n), "minus one zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero"],
    [Number.NaN, "not a number"],
    [Number.NEGATIVE_INFINITY, "minus infinity"]
  ] as const)("%s → %s", (n, words) => {
    assert.strictEqual(numberToWords(n), words)
  })
})
