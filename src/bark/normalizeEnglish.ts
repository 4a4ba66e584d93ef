/**
 * English text normalisation: the digits, symbols and abbreviations of a
 * script written for the eye spelled out as the words a reader would say,
 * before Bark sees the text. Bark learned from transcribed speech, so it
 * reads "twenty percent" well and "20%" badly (a number skipped, a symbol
 * mumbled, a pause in the wrong place): "The 2024 model costs $5.99 — 20% off
 * until Jan. 3rd!" becomes "The twenty twenty-four model costs five dollars
 * and ninety-nine cents — twenty percent off until January third!".
 *
 * The rules are one ordered table, `RULES`, read top to bottom: each is a
 * global regular expression and the words for one match, or `undefined` to
 * leave the match as written. Wide shapes come first (an abbreviation, a
 * date, a phone number, a sum of money, a number with its unit) so that the
 * last rule has only bare numbers left to read; some rules only name a symbol
 * ("#1" → "number 1", "5-10" → "5 to 10") and leave the digits to the rules
 * below. `numberToWords` exports the cardinal reading they share.
 *
 * - Numbers: cardinals up to the quintillions ("1,250", "-3" → "minus
 *   three"), decimals ("3.14" → "three point one four"), ordinals ("103rd"),
 *   ranges ("5-10" → "five to ten"), percentages, fractions ("3/4" → "three
 *   quarters", "1 1/2", "½"), decades ("1990s", "'90s"), multiples ("3x" →
 *   "three times", "2x4" → "two by four"), version-like runs ("1.2.3" →
 *   "one point two point three").
 * - Years: a plain four-digit number from 1100 to 2099 reads as a year
 *   ("nineteen ninety-nine", "two thousand five", "twenty twenty-four") after
 *   a word that introduces one (`YEAR_CUES`: "in", "since", "the", …, and "to"
 *   or "and" after another year), before "BC"/"AD", in a date and in a range
 *   of years; anywhere else it is a quantity ("2024 people" → "two thousand
 *   twenty-four people"). So "the 2010 employees" reads as a year, and
 *   "2,024", with its separator, is always a quantity.
 * - Digit by digit: telephone numbers (3-3-4 digits joined by "-" or ".",
 *   optionally "(555) " or "1-"; or "+" and groups parted by spaces, dots or
 *   hyphens), a number with a leading zero ("007") and a run of ten or more
 *   digits without separators (accounts, IDs): groups are parted by commas.
 * - Times ("3:30 pm" → "three thirty PM", "10:05" → "ten oh five", "15:00" →
 *   "fifteen hundred"), dates ("Jan. 3rd", "January 3, 2024", "3 January
 *   2024", "2024-01-03", US-ordered "1/3/2024"), money ("$5.99", "$1.5M",
 *   "€20", "£3.50", "¥100", singular "one dollar"), temperatures ("°C", "°F"),
 *   units after a number ("5 km", "3 ft", "60 mph", "2 GB", "100 ms").
 * - Abbreviations: Mr., Mrs., Ms., Prof., Mt., Dr. and St. (Doctor and Saint
 *   before a name; Drive and Street after one: "Main St."), Jr., Sr., vs.,
 *   etc., e.g., i.e., approx., "No. 5". Symbols: "&" → "and", "+" and "="
 *   between operands, "@" → "at", "#1" → "number one", "~" before a number →
 *   "about".
 *
 * Not covered: other languages (the recipe runs this for English voices; it
 * does not detect a language, but it rewrites only ASCII digits, the symbols
 * above and English abbreviations, so text in another script passes through
 * as it is), roman numerals, e-mail addresses and URLs, and abbreviations not
 * listed. Digits glued to letters are part of a word and stay ("H2O", "mp3",
 * "4K", "第3章"), except the suffixes read above ("3rd", "5km", "3x", "5pm").
 *
 * Ambiguities, resolved: "5-10" is a range, so a two-group phone number
 * ("555-1234") is one too, while the spaced hyphen of "5 - 3" stays a dash;
 * "x" between numbers is "by" (dimensions), "×" is "times"; "1/3/2024" is
 * month first unless the first number is over 12; a fraction needs a
 * denominator of 2–10, 16, 32, 64 or 100 ("9/11" and "24/7" are read number
 * by number); "May 5" and "5 May" are dates; "No." is "number" only before a
 * number; "Dr."/"St." after a capitalised word that does not open its
 * sentence, or after a number, is Drive/Street, else before a capitalised
 * word Doctor/Saint ("I told John Dr. Smith…" reads wrongly); a bare "m"
 * after a number is meters, never million ("$5m" is money, so million); a
 * unit after "a"/"an" is singular ("a 5 km run" → "a five kilometer run").
 *
 * Sentence punctuation stays, for Bark's prosody and for the sentence
 * splitter (`text.ts`, Intl.Segmenter): commas, question marks and
 * sentence-ending periods are never removed; an abbreviation's period goes
 * only when it does not also end the sentence (it ends one before a capital,
 * a new line or the end of the text: "…, etc. Then" keeps it, "Dr. Smith"
 * loses it). A sentence that started with a digit or a symbol starts with a
 * capital word, since Intl.Segmenter does not break before a lowercase one.
 *
 * Deterministic and total: no input throws, and a shape a rule cannot read is
 * left to the next. Idempotent: the table runs again until a pass changes
 * nothing, four passes at most (a word a late rule writes can complete an
 * early rule's context), so normalising the result changes nothing. Linear in the text: a pass runs
 * each pattern once over it, no quantified group can match the same
 * characters two ways, and context is read by scans of at most 64 characters.
 *
 * @since 0.5.0
 */

import { ordinal, plural, sayDigits, sayHundreds, sayInteger, sayNumber, sayPart, sayYear, small } from "./numberWords.ts"

export { numberToWords } from "./numberWords.ts"

export interface NormalizedEnglish {
  /** The text with the spans the rules recognised spelled out. */
  readonly text: string
  /** How many spans the rules rewrote (a span a rule names and a later rule reads counts twice). */
  readonly changes: number
}

// ---------------------------------------------------------------------------
// Context: bounded looks at the text around a match
// ---------------------------------------------------------------------------

const LOOK = 64
const space = /\s/u
const wordChar = /[\p{L}\p{N}'’]/u
const opening = /["'“‘(\[]/u
const capital = /\p{Lu}/u
const alphanumeric = /[\p{L}\p{N}]/u
/** Abbreviations whose period never ends a sentence. */
const NEVER_FINAL = new Set(["Mr", "Mrs", "Ms", "Prof", "Mt", "Dr", "St", "No", "no", "vs", "approx", "Approx"])

/** The word ending just before `index` (letters, digits, apostrophes), after whitespace (and a comma when asked). */
const wordBefore = (text: string, index: number, comma = false): { readonly word: string; readonly start: number } => {
  let end = index
  if (comma && text[end - 1] === " " && text[end - 2] === ",") end -= 2
  while (end > 0 && index - end < LOOK && space.test(text[end - 1]!)) end--
  let start = end
  while (start > 0 && end - start < LOOK && wordChar.test(text[start - 1]!)) start--
  return { word: text.slice(start, end), start }
}

/** Nothing but whitespace and opening quotes between the last sentence end (or the start) and `index`. */
const startsSentence = (text: string, index: number): boolean => {
  let i = index
  while (i > 0 && index - i < LOOK && (space.test(text[i - 1]!) || opening.test(text[i - 1]!))) i--
  if (i === 0) return true
  const c = text[i - 1]
  if (c === "!" || c === "?" || c === "…") return true
  return c === "." && i < index && !NEVER_FINAL.has(wordBefore(text, i - 1).word)
}

/** The text after `at` starts a new sentence: the end, a new line, or whitespace then a capital or an opening quote. */
const endsSentence = (text: string, at: number): boolean => {
  let i = at
  while (i < text.length && i - at < LOOK && space.test(text[i]!)) {
    if (text[i] === "\n") return true
    i++
  }
  if (i >= text.length) return true
  return i > at && (capital.test(text[i]!) || opening.test(text[i]!))
}

/** A capitalised word follows `at`: "St. Louis". */
const beforeName = (text: string, at: number): boolean => /^ +\p{Lu}/u.test(text.slice(at, at + LOOK))

/** The word before `index` names a place or a person: a capitalised word that does not open its sentence, or a number ("5th"). */
const afterName = (text: string, index: number): boolean => {
  if (text[index - 1] !== " ") return false
  const { word, start } = wordBefore(text, index)
  return /^\d/.test(word) || (capital.test(word[0] ?? "") && !startsSentence(text, start))
}

/** A unit's name is singular after "1", and after "a"/"an", where the number and unit describe a noun: "a 5 km run". */
const singular = (written: string, m: RegExpExecArray): boolean =>
  written === "1" || /^an?$/i.test(wordBefore(m.input, m.index).word)

/** `word` with a space on each side that touches a letter or a digit: "R&D" → "R and D". */
const padded = (word: string, m: RegExpExecArray): string => {
  const touches = (c: string | undefined) => c !== undefined && alphanumeric.test(c)
  return `${touches(m.input[m.index - 1]) ? " " : ""}${word}${touches(m.input[m.index + m[0].length]) ? " " : ""}`
}

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

interface Rule {
  /** What it reads, for the reader of this table. */
  readonly name: string
  /** Global, Unicode. */
  readonly pattern: RegExp
  /** The words for one match, or `undefined` to leave it as written. */
  readonly say: (m: RegExpExecArray) => string | undefined
}

const rule = (name: string, source: string, say: (m: RegExpExecArray, g: Partial<Record<string, string>>) => string | undefined): Rule => ({
  name,
  pattern: new RegExp(source, "gu"),
  say: (m) => say(m, m.groups ?? {})
})

/** Not inside a word or a number ("x5", "15", "1.5", "1,500"). */
const START = String.raw`(?<![\p{L}\p{N}_]|\d[.,:/])`
/** Not followed by more of a word or a number. */
const END = String.raw`(?![\p{L}\p{N}_]|[.,:/]\d)`
/** A number as written: "5", "1,250", "3.14". */
const NUM = String.raw`(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?`
/** A sign before a number, itself not inside a word. */
const SIGN = String.raw`(?<sign>(?<![\p{L}\p{N}_])[-−+](?=[$€£¥]?\d))?`
const sign = (s: string | undefined): string => s === undefined ? "" : s === "+" ? "plus " : "minus "

/** An abbreviation's period: kept where it also ends the sentence. */
const period = (m: RegExpExecArray, dotted: boolean): string =>
  dotted && endsSentence(m.input, m.index + m[0].length) ? "." : ""
/** The period of an abbreviation that never ends a sentence ("vs.", "e.g."): kept only at the end of a line or the text. */
const finalPeriod = (m: RegExpExecArray): string =>
  m[0].endsWith(".") && /^[^\S\n]*(?:\n|$)/u.test(m.input.slice(m.index + m[0].length, m.index + m[0].length + LOOK)) ? "." : ""

const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December"
]
const MONTH_ABBREVIATIONS: Record<string, number> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, Jun: 6, Jul: 7, Aug: 8, Sept: 9, Sep: 9, Oct: 10, Nov: 11, Dec: 12
}
const MONTH = `(?<month>${[...MONTHS, ...Object.keys(MONTH_ABBREVIATIONS)].join("|")})(?<dot>\\.)?`
const monthName = (name: string): string => {
  const n = MONTH_ABBREVIATIONS[name]
  return n === undefined ? name : MONTHS[n - 1] ?? name
}
const validDay = (day: string): boolean => Number(day) >= 1 && Number(day) <= 31
/** "January third, twenty twenty-four". */
const sayDate = (month: string, day: string, year: string | undefined): string =>
  `${month} ${ordinal(sayInteger(day))}${year === undefined ? "" : `, ${sayYear(year)}`}`

const sayTime = (hour: string, minute: string, second: string | undefined, meridiem: string | undefined): string | undefined => {
  const [h, min, s] = [Number(hour), Number(minute), Number(second ?? 0)]
  if (h > 23 || min > 59 || s > 59 || (meridiem !== undefined && (h < 1 || h > 12))) return undefined
  const minutes = min === 0
    ? meridiem !== undefined ? "" : h <= 12 ? " o'clock" : " hundred"
    : min < 10 ? ` oh ${small(min)}` : ` ${sayHundreds(min)}`
  const seconds = s === 0 ? "" : ` and ${sayHundreds(s)} second${s === 1 ? "" : "s"}`
  const ampm = meridiem === undefined ? "" : /^[Aa]/.test(meridiem) ? " AM" : " PM"
  return `${sayInteger(hour)}${minutes}${seconds}${ampm}`
}
const MERIDIEM = String.raw`(?<ap>[AaPp]\.?[Mm](?<apDot>\.)?)(?![\p{L}\p{N}_])`

/** [singular, plural, minor singular, minor plural]. */
const CURRENCIES: Record<string, readonly [string, string, string?, string?]> = {
  "$": ["dollar", "dollars", "cent", "cents"],
  "€": ["euro", "euros", "cent", "cents"],
  "£": ["pound", "pounds", "penny", "pence"],
  "¥": ["yen", "yen"]
}
const MAGNITUDES: Record<string, string> = {
  k: "thousand", K: "thousand", m: "million", M: "million", b: "billion", B: "billion", bn: "billion", tn: "trillion"
}

/** "five dollars and ninety-nine cents", "one point five million dollars"; `single` for "a five dollar fee". */
const sayMoney = (symbol: string, amount: string, scale: string | undefined, single: boolean): string => {
  const [name, names, minor, minors] = CURRENCIES[symbol] ?? ["", ""]
  if (scale !== undefined) return `${sayNumber(amount)} ${scale} ${single ? name : names}`
  const [int = "", frac] = amount.split(".")
  const major = `${sayNumber(int)} ${single || int === "1" ? name : names}`
  if (frac === undefined) return major
  if (minor === undefined || frac.length > 2) return `${sayNumber(amount)} ${names}`
  const cents = Number(frac.padEnd(2, "0"))
  const change = `${sayHundreds(cents)} ${cents === 1 ? minor : minors}`
  if (cents === 0) return major
  return Number(int.replaceAll(",", "")) === 0 ? change : `${major} and ${change}`
}

/** [singular, plural]; longest symbols first so that "mph" is not read as "m". */
const UNITS: Record<string, readonly [string, string]> = {
  "km/h": ["kilometer per hour", "kilometers per hour"],
  "m/s": ["meter per second", "meters per second"],
  Mbps: ["megabit per second", "megabits per second"],
  Gbps: ["gigabit per second", "gigabits per second"],
  kWh: ["kilowatt-hour", "kilowatt-hours"],
  mph: ["mile per hour", "miles per hour"],
  kph: ["kilometer per hour", "kilometers per hour"],
  GHz: ["gigahertz", "gigahertz"],
  MHz: ["megahertz", "megahertz"],
  kHz: ["kilohertz", "kilohertz"],
  lbs: ["pound", "pounds"],
  sec: ["second", "seconds"],
  min: ["minute", "minutes"],
  hrs: ["hour", "hours"],
  km: ["kilometer", "kilometers"],
  cm: ["centimeter", "centimeters"],
  mm: ["millimeter", "millimeters"],
  kg: ["kilogram", "kilograms"],
  mg: ["milligram", "milligrams"],
  lb: ["pound", "pounds"],
  oz: ["ounce", "ounces"],
  ft: ["foot", "feet"],
  yd: ["yard", "yards"],
  mi: ["mile", "miles"],
  KB: ["kilobyte", "kilobytes"],
  kB: ["kilobyte", "kilobytes"],
  MB: ["megabyte", "megabytes"],
  GB: ["gigabyte", "gigabytes"],
  TB: ["terabyte", "terabytes"],
  Hz: ["hertz", "hertz"],
  ms: ["millisecond", "milliseconds"],
  hr: ["hour", "hours"],
  ml: ["milliliter", "milliliters"],
  mL: ["milliliter", "milliliters"],
  kW: ["kilowatt", "kilowatts"],
  m: ["meter", "meters"],
  g: ["gram", "grams"],
  h: ["hour", "hours"],
  L: ["liter", "liters"]
}

const FRACTION_DENOMINATORS = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 100])
/** "one half", "three quarters", "two thirds"; in a mixed number "a half". */
const sayFraction = (numerator: number, denominator: number, mixed: boolean): string => {
  const name = denominator === 2 ? "half" : denominator === 4 ? "quarter" : ordinal(sayInteger(String(denominator)))
  if (numerator === 1) return `${mixed ? "a" : "one"} ${name}`
  return `${sayInteger(String(numerator))} ${name === "half" ? "halves" : plural(name)}`
}
const VULGAR: Record<string, readonly [number, number]> = {
  "½": [1, 2], "⅓": [1, 3], "⅔": [2, 3], "¼": [1, 4], "¾": [3, 4], "⅕": [1, 5], "⅛": [1, 8], "⅜": [3, 8], "⅝": [5, 8], "⅞": [7, 8]
}
const withWhole = (whole: string | undefined, fraction: (mixed: boolean) => string): string =>
  whole === undefined ? fraction(false) : `${sayNumber(whole)} and ${fraction(true)}`

const TITLES: Record<string, string> = { Mr: "Mister", Mrs: "Missus", Ms: "Miz", Prof: "Professor", Mt: "Mount" }

/** Words after which a year-like number is a year. */
const YEAR_CUES = new Set([
  "in", "since", "from", "between", "by", "until", "till", "before", "after", "during", "circa", "around", "year", "the", "of",
  "early", "late", "mid", "spring", "summer", "autumn", "fall", "winter", "class"
])
/** Words after which a year-like number is a year when a year comes before them: "from 1990 to 1995". */
const YEAR_JOINS = new Set(["to", "and", "or", "through", "till", "until"])
const yearLike = (digits: string): boolean => /^(?:1[1-9]|20)\d\d$/.test(digits)

/** A plain four-digit number from 1100 to 2099 where a year is expected. */
const isYear = (digits: string, m: RegExpExecArray): boolean => {
  if (!yearLike(digits)) return false
  if (/^ (?:BC|AD|BCE|CE)\b/.test(m.input.slice(m.index + m[0].length, m.index + m[0].length + 5))) return true
  const before = wordBefore(m.input, m.index)
  const cue = before.word.toLowerCase()
  return YEAR_CUES.has(cue) || (YEAR_JOINS.has(cue) && yearLike(wordBefore(m.input, before.start).word))
}

/** Not preceded by a letter, a digit or "_". */
const AFTER_GAP = String.raw`(?<![\p{L}\p{N}_])`
/** Not followed by a letter, a digit or "_". */
const BEFORE_GAP = String.raw`(?![\p{L}\p{N}_])`
const SUFFIX = "(?:st|nd|rd|th)"
const WHOLE_NUMBER = new RegExp(`^${NUM}$`)
/** After a sum of money: "$1.5M", "$10k", "$2 billion". */
const MAGNITUDE = String.raw`(?:(?<mag>bn|tn|[kKmMbB])(?![\p{L}\p{N}_])| (?<scale>thousand|million|billion|trillion)\b)`
/** One end of a range: "5", "$5", "1.5", "9:30", "9am". */
const OPERAND = String.raw`[$€£¥]?${NUM}(?::\d\d)?(?:[AaPp][Mm])?`
const UNIT = `(?<unit>${Object.keys(UNITS).map((u) => u.replaceAll("/", "\\/")).join("|")})`
const digitGroups = (written: string): string => (written.match(/\d+/g) ?? []).map(sayDigits).join(", ")

const RULES: ReadonlyArray<Rule> = [
  // Symbols read the same anywhere, first, so that the words after them see the spaces they bring
  rule("& (not an HTML entity)",
    String.raw`&(?![a-zA-Z]{2,8};|#\d{1,6};)`,
    (m) => padded("and", m)),
  rule("@",
    "@",
    (m) => padded("at", m)),

  // Abbreviations, while the words around them are as written
  rule("e.g., i.e.",
    String.raw`(?<![\p{L}\p{N}_.])(?<a>[eE]\.g|[iI]\.e)\.(?!\p{L})`,
    (m, g) => `${/^[eE]/.test(g.a ?? "") ? "for example" : "that is"}${finalPeriod(m)}`),
  rule("etc.",
    String.raw`${AFTER_GAP}etc\.`,
    (m) => `et cetera${period(m, true)}`),
  rule("vs.",
    String.raw`${AFTER_GAP}vs(?:\.|(?= ))`,
    (m) => `versus${finalPeriod(m)}`),
  rule("approx.",
    String.raw`${AFTER_GAP}[Aa]pprox(?:\.|(?= ))`,
    (m) => `approximately${finalPeriod(m)}`),
  rule("No. before a number",
    String.raw`${AFTER_GAP}[Nn]o\.(?= ?#?\d)`,
    () => "number"),
  rule("Mr., Mrs., Ms., Prof., Mt. before a name",
    String.raw`${AFTER_GAP}(?<t>Mrs|Mr|Ms|Prof|Mt)(?:\.(?= +\p{L})|(?= +\p{Lu}))`,
    (_, g) => TITLES[g.t ?? ""]),
  rule("Dr., St.: Drive, Street after a name; Doctor, Saint before one",
    String.raw`${AFTER_GAP}(?<t>Dr|St)(?<dot>\.)?${BEFORE_GAP}`,
    (m, g) => {
      const street = `${g.t === "Dr" ? "Drive" : "Street"}${period(m, g.dot !== undefined)}`
      if (afterName(m.input, m.index)) return street
      if (beforeName(m.input, m.index + m[0].length)) return g.t === "Dr" ? "Doctor" : "Saint"
      // "Main St. is busy": a capitalised word before it, even one that opens the sentence
      return m.input[m.index - 1] === " " && capital.test(wordBefore(m.input, m.index).word[0] ?? "") ? street : undefined
    }),
  rule("Jr., Sr. after a name",
    String.raw`${AFTER_GAP}(?<t>Jr|Sr)(?<dot>\.)?${BEFORE_GAP}`,
    (m, g) => capital.test(wordBefore(m.input, m.index, true).word[0] ?? "")
      ? `${g.t === "Jr" ? "Junior" : "Senior"}${period(m, g.dot !== undefined)}`
      : undefined),

  // Dates, before their numbers are read alone
  rule("ISO date: 2024-01-03",
    String.raw`${START}(?<y>\d{4})-(?<mo>\d{2})-(?<d>\d{2})(?![\p{L}\p{N}_]|[-.,:/]\d)`,
    (_, g) => {
      const month = MONTHS[Number(g.mo) - 1]
      return month === undefined || !validDay(g.d ?? "") ? undefined : sayDate(month, g.d ?? "", g.y)
    }),
  rule("US date: 1/3/2024 (day first when the first number is over 12)",
    String.raw`${START}(?<a>\d{1,2})\/(?<b>\d{1,2})\/(?<y>\d{4})${END}`,
    (_, g) => {
      const [a, b] = [Number(g.a), Number(g.b)]
      const [month, day] = a <= 12 ? [a, b] : [b, a]
      const name = MONTHS[month - 1]
      return name === undefined || !validDay(String(day)) ? undefined : sayDate(name, String(day), g.y)
    }),
  rule("day first: 3 January 2024, the 3rd of Jan.",
    String.raw`${START}(?<d>\d{1,2})(?:${SUFFIX} of | |${SUFFIX} )${MONTH}(?:,? (?<y>\d{4}))?${END}`,
    (m, g) => {
      if (!validDay(g.d ?? "")) return undefined
      const the = wordBefore(m.input, m.index).word.toLowerCase() === "the" ? "" : "the "
      const year = g.y === undefined ? period(m, g.dot !== undefined) : `, ${sayYear(g.y)}`
      return `${the}${ordinal(sayInteger(g.d ?? ""))} of ${monthName(g.month ?? "")}${year}`
    }),
  rule("month first: Jan. 3rd, January 3, 2024, May 2024",
    String.raw`${AFTER_GAP}${MONTH} (?:(?<d>\d{1,2})${SUFFIX}?(?:,? (?<y>\d{4}))?|(?<yo>\d{4}))${END}`,
    (_, g) => {
      const month = monthName(g.month ?? "")
      if (g.yo !== undefined) return `${month} ${sayYear(g.yo)}`
      return validDay(g.d ?? "") ? sayDate(month, g.d ?? "", g.y) : undefined
    }),

  // Numbers read digit by digit
  rule("phone: +44 20 7946 0958, +1 (555) 123-4567",
    String.raw`${AFTER_GAP}\+\d{1,3}(?:[ .\-]\(?\d{1,4}\)?){2,5}(?![\p{L}\p{N}_]|[-.,]\d)`,
    (m) => `plus ${digitGroups(m[0])}`),
  rule("phone: (555) 123-4567, 555.123.4567, 1-800-555-1234",
    String.raw`(?<![\p{L}\p{N}_+\-.])(?:1[-.])?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?![\p{L}\p{N}_]|[-.,]\d)`,
    (m) => digitGroups(m[0])),

  // Words for symbols before a number; the number is read below
  rule("~ before a number",
    String.raw`~(?= ?[-−$€£¥]?\d)`,
    (m) => padded("about", m)),
  rule("# before a number",
    String.raw`#(?=\d)`,
    (m) => padded("number", m)),
  rule("range: 5-10, 1990–1995, 9am-5pm",
    String.raw`(?<![\p{L}\p{N}_\-–]|\d[.,:/])(?<a>${OPERAND})(?:-| ?– ?)(?<b>${OPERAND})(?![\p{L}\p{N}_]|[-–.,:/]\d)`,
    (_, g) => {
      const [a = "", b = ""] = [g.a, g.b]
      if (/^0\d/.test(a) || /^0\d/.test(b)) return undefined
      if (yearLike(a) && yearLike(b) && Number(a) < Number(b)) return `${sayYear(a)} to ${sayYear(b)}`
      if (yearLike(a) && /^[1-9]\d$/.test(b) && Number(b) > Number(a) % 100) return `${sayYear(a)} to ${sayHundreds(Number(b))}`
      return `${a} to ${b}`
    }),

  // Times
  rule("time: 3:30 pm, 10:05, 15:00, 10:05:30",
    String.raw`${START}(?<h>\d{1,2}):(?<min>\d\d)(?::(?<s>\d\d))?(?: ?${MERIDIEM})?(?![\p{L}\p{N}_]|[.:]\d)`,
    (m, g) => {
      const time = sayTime(g.h ?? "", g.min ?? "", g.s, g.ap)
      return time === undefined ? undefined : `${time}${period(m, g.apDot !== undefined)}`
    }),
  rule("time: 3 pm, 10 a.m.",
    String.raw`${START}(?<h>\d{1,2}) ?${MERIDIEM}`,
    (m, g) => {
      const time = sayTime(g.h ?? "", "0", undefined, g.ap)
      return time === undefined ? undefined : `${time}${period(m, g.apDot !== undefined)}`
    }),

  // Numbers with what they count
  rule("money: $5.99, €20, £3.50, ¥100, $1.5M, $2 billion (and US$5)",
    String.raw`(?<![\p{N}_]|\d[.,:/])${SIGN}(?<sym>[$€£¥]) ?(?<num>${NUM})${MAGNITUDE}?(?![\p{N}_]|[.,]\d)`,
    (m, g) => {
      const scale = g.scale ?? (g.mag === undefined ? undefined : MAGNITUDES[g.mag])
      if (scale === undefined && /^\p{L}/u.test(m.input[m.index + m[0].length] ?? "")) return undefined
      return padded(`${sign(g.sign)}${sayMoney(g.sym ?? "", g.num ?? "", scale, singular("", m))}`, m)
    }),
  rule("percent: 20%, -3.5%",
    String.raw`${START}${SIGN}(?<num>${NUM}) ?%`,
    (_, g) => `${sign(g.sign)}${sayNumber(g.num ?? "")} percent`),
  rule("degrees: 20°C, -3 °F, 90°",
    String.raw`${START}${SIGN}(?<num>${NUM}) ?(?:[°º](?: ?(?<scale>[CF])${BEFORE_GAP})?|(?<sym>[℃℉]))`,
    (m, g) => {
      const scale = g.scale ?? (g.sym === undefined ? undefined : g.sym === "℃" ? "C" : "F")
      const name = scale === undefined ? "" : scale === "C" ? " Celsius" : " Fahrenheit"
      return `${sign(g.sign)}${sayNumber(g.num ?? "")} degree${singular(g.num ?? "", m) ? "" : "s"}${name}`
    }),
  rule("units: 5 km, 3 ft, 60 mph, 2 GB, 100 ms",
    String.raw`${START}${SIGN}(?<num>${NUM}) ?${UNIT}${BEFORE_GAP}`,
    (m, g) => {
      const [name, names] = UNITS[g.unit ?? ""] ?? ["", ""]
      return `${sign(g.sign)}${sayNumber(g.num ?? "")} ${singular(g.num ?? "", m) ? name : names}`
    }),
  rule("dimensions: 2x4, 1920x1080, 3 × 4",
    String.raw`${START}(?<a>${NUM}) ?(?<op>[x×]) ?(?<b>${NUM})${END}`,
    (_, g) => `${g.a} ${g.op === "×" ? "times" : "by"} ${g.b}`),
  rule("times as much: 3x, 10× faster",
    String.raw`${START}(?<a>${NUM})[x×]${BEFORE_GAP}`,
    (_, g) => `${g.a} times`),

  // Fractions, decades and ordinals: numbers with a mark
  rule("fractions: 1/2, 3/4, 1 1/2",
    String.raw`${START}(?:(?<w>\d+) )?(?<n>\d{1,3})\/(?<d>\d{1,3})${END}`,
    (_, g) => {
      const [n, d] = [Number(g.n), Number(g.d)]
      if (!FRACTION_DENOMINATORS.has(d) || (n === 24 && d === 7)) return undefined
      return withWhole(g.w, (mixed) => sayFraction(n, d, mixed))
    }),
  rule("fractions: ½, 1½",
    String.raw`${START}(?:(?<w>\d+) ?)?(?<v>[½⅓⅔¼¾⅕⅛⅜⅝⅞])${BEFORE_GAP}`,
    (_, g) => {
      const [n, d] = VULGAR[g.v ?? ""] ?? [1, 2]
      return withWhole(g.w, (mixed) => sayFraction(n, d, mixed))
    }),
  rule("decades: 1990s, '90s, 80s",
    String.raw`${START}(?:(?<y>(?:1[1-9]|20)\d0)|['’]?(?<d>[1-9]0))['’]?s${BEFORE_GAP}`,
    (_, g) => plural(g.y !== undefined ? sayYear(g.y) : sayHundreds(Number(g.d)))),
  rule("ordinals: 1st, 22nd, 103rd",
    String.raw`${START}(?<num>\d{1,3}(?:,\d{3})+|\d+)(?:${SUFFIX}|ST|ND|RD|TH)${BEFORE_GAP}`,
    (_, g) => ordinal(sayNumber(g.num ?? ""))),

  // Every number left: a year where one is expected, else as written; glued to a word, left as it is
  rule("numbers: 1,250, -3, 3.14, 1999, 007, 1.2.3",
    String.raw`${START}(?:(?<sign>[-−+])(?=\d))?(?<num>\d+(?:[.,:/]\d+)*)`,
    (m, g) => {
      const num = g.num ?? ""
      if (/[\p{L}\p{N}_]/u.test(m.input[m.index + m[0].length] ?? "")) return undefined
      const said = /^\d+$/.test(num) && isYear(num, m)
        ? sayYear(num)
        : WHOLE_NUMBER.test(num)
        ? sayNumber(num)
        : num.split(/([.,:/])/).map(sayPart).join("")
      return `${sign(g.sign)}${said}`
    }),

  // Symbols between operands, now that the numbers and units around them are words
  rule("+ between operands",
    String.raw`(?<=[\p{L}\p{N}])\+(?=[\p{L}\p{N}])|(?<=[\p{L}\p{N}] )\+(?= [\p{L}\p{N}])`,
    (m) => padded("plus", m)),
  rule("= between operands",
    String.raw`(?<=[\p{L}\p{N}])=(?=[\p{L}\p{N}])|(?<=[\p{L}\p{N}] )=(?= [\p{L}\p{N}])`,
    (m) => padded("equals", m))
]

/** `said` with a capital where it starts a sentence (names carry their own: "Doctor", "January"). */
const capitalised = (said: string, m: RegExpExecArray): string =>
  startsSentence(m.input, m.index) ? said.replace(/^(\s*)(\p{Ll})/u, (_, s: string, c: string) => s + c.toUpperCase()) : said

/** Passes of the table at most; each pass spells out more than it leaves, so two or three reach the fixed point. */
const MAX_PASSES = 4

const apply = (text: string, { pattern, say }: Rule): NormalizedEnglish => {
  let out = ""
  let last = 0
  let changes = 0
  for (const m of text.matchAll(pattern)) {
    const said = say(m)
    if (said === undefined || said === m[0]) continue
    out += text.slice(last, m.index) + capitalised(said, m)
    last = m.index + m[0].length
    changes++
  }
  return changes === 0 ? { text, changes } : { text: out + text.slice(last), changes }
}

/**
 * Spells out the numbers, symbols and abbreviations of an English text as the
 * words a reader would say, leaving what no rule recognises as it is.
 *
 * @since 0.5.0
 */
export const normalizeEnglish = (text: string): NormalizedEnglish => {
  let current = text
  let changes = 0
  // A word a late rule writes can complete an early rule's context ("vs=x" → "vs equals x"),
  // so the table runs again until a pass changes nothing: the result is a fixed point.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let changed = 0
    for (const r of RULES) {
      const step = apply(current, r)
      current = step.text
      changed += step.changes
    }
    changes += changed
    if (changed === 0) break
  }
  return { text: current, changes }
}
