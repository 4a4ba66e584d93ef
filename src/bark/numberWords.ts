/**
 * English number words, as a narrator says them: cardinals up to the
 * quintillions ("one thousand two hundred fifty"; past that, digit by digit),
 * decimals ("three point one four"), ordinals ("twenty-first"), plurals of
 * number words ("nineteen nineties"), years ("nineteen oh five", "two thousand
 * five", "twenty twenty-four") and digit strings ("four one five five"). The
 * English normaliser (./normalizeEnglish.ts) decides which one a number is.
 *
 * @since 0.5.0
 */


const ONES = [
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
  "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"
]
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
const SCALES = ["", " thousand", " million", " billion", " trillion", " quadrillion", " quintillion"]
const ORDINALS: Record<string, string> = {
  one: "first", two: "second", three: "third", five: "fifth", eight: "eighth", nine: "ninth", twelve: "twelfth"
}

/** 0–19 in words. */
export const small = (n: number): string => ONES[n] ?? ""

/** 0–999: "seven", "forty-two", "one hundred five". */
export const sayHundreds = (n: number): string => {
  const hundreds = Math.floor(n / 100)
  const rest = n % 100
  const tens = rest < 20 ? small(rest) : `${TENS[Math.floor(rest / 10)]}${rest % 10 === 0 ? "" : `-${small(rest % 10)}`}`
  if (hundreds === 0) return tens
  return rest === 0 ? `${small(hundreds)} hundred` : `${small(hundreds)} hundred ${tens}`
}

/** "4155" → "four one five five". */
export const sayDigits = (digits: string): string => Array.from(digits, (d) => small(Number(d))).join(" ")

/** A run of digits as a cardinal; past the quintillions, digit by digit. */
export const sayInteger = (digits: string): string => {
  let start = 0
  while (start < digits.length - 1 && digits[start] === "0") start++
  const d = digits.slice(start)
  if (d.length > SCALES.length * 3) return sayDigits(d)
  const groups: Array<string> = []
  for (let end = d.length, scale = 0; end > 0; end -= 3, scale++) {
    const group = Number(d.slice(Math.max(0, end - 3), end))
    if (group > 0) groups.unshift(`${sayHundreds(group)}${SCALES[scale]}`)
  }
  return groups.length === 0 ? "zero" : groups.join(" ")
}

/**
 * A number in words, American style: "one thousand two hundred fifty",
 * "minus three", "three point one four". Integers read as cardinals (digit by
 * digit past the quintillions), other numbers by their shortest decimal form.
 *
 * @since 0.5.0
 */
export const numberToWords = (n: number | bigint): string => {
  if (typeof n === "bigint") return n < 0n ? `minus ${sayInteger((-n).toString())}` : sayInteger(n.toString())
  if (Number.isNaN(n)) return "not a number"
  if (!Number.isFinite(n)) return n > 0 ? "infinity" : "minus infinity"
  const plain = Math.abs(n).toLocaleString("en-US", { useGrouping: false, maximumFractionDigits: 20 })
  const [int = "0", frac] = plain.split(".")
  return `${n < 0 ? "minus " : ""}${sayInteger(int)}${frac === undefined ? "" : ` point ${sayDigits(frac)}`}`
}

/** The last word of a cardinal made ordinal: "twenty-one" → "twenty-first", "one hundred" → "one hundredth". */
export const ordinal = (cardinal: string): string => {
  const cut = Math.max(cardinal.lastIndexOf(" "), cardinal.lastIndexOf("-")) + 1
  const last = cardinal.slice(cut)
  return cardinal.slice(0, cut) + (ORDINALS[last] ?? (last.endsWith("y") ? `${last.slice(0, -1)}ieth` : `${last}th`))
}

/** The last word made plural: "nineteen ninety" → "nineteen nineties", "third" → "thirds". */
export const plural = (words: string): string => words.endsWith("y") ? `${words.slice(0, -1)}ies` : `${words}s`

/** A four-digit year as said: "nineteen ninety-nine", "nineteen oh five", "two thousand five", "twenty twenty-four". */
export const sayYear = (digits: string): string => {
  const year = Number(digits)
  if (digits.length !== 4 || year < 1000) return sayInteger(digits)
  const century = Math.floor(year / 100)
  const rest = year % 100
  if (century % 10 === 0 && rest < 10) return sayInteger(digits) // 2000, 2005, 1009
  if (rest === 0) return `${sayHundreds(century)} hundred`
  return `${sayHundreds(century)} ${rest < 10 ? `oh ${small(rest)}` : sayHundreds(rest)}`
}

/** One piece of a run such as "1.2.3" or "1,2,3": its numbers read, its dots "point", its commas a pause. */
export const sayPart = (part: string): string => part === "." ? " point " : part === "," ? ", " : /^\d/.test(part) ? sayNumber(part) : " "

/** A number as written ("1,250", "3.14", "007", "4155550123"): a cardinal or decimal, or digit by digit. */
export const sayNumber = (written: string): string => {
  const [int = "", frac] = written.split(".")
  const digits = int.replaceAll(",", "")
  const cardinal = int.includes(",") || (digits.length <= 9 && (digits.length === 1 || !digits.startsWith("0")))
  const whole = cardinal ? sayInteger(digits) : sayDigits(digits)
  return frac === undefined ? whole : `${whole} point ${sayDigits(frac)}`
}
