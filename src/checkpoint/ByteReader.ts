/**
 * A bounds-checked little-endian cursor over a byte array, shared by the
 * checkpoint decoders. Every read checks the remaining length first and stops
 * the decoder with a "truncated" `CheckpointError`, so lengths read from a
 * file are never trusted before they are compared with the bytes at hand.
 *
 * @since 0.1.0
 */
import { fail } from "./CheckpointError.ts"

export class ByteReader {
  readonly bytes: Uint8Array
  readonly file: string
  readonly view: DataView
  offset: number

  constructor(bytes: Uint8Array, file: string, offset = 0) {
    this.bytes = bytes
    this.file = file
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.offset = offset
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset
  }

  /** Fails unless `n` more bytes are available (n must be a non-negative safe integer). */
  need(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      fail(this.file, "truncated", `${what} needs ${n} bytes at offset ${this.offset}, but only ${Math.max(0, this.remaining)} remain`)
    }
  }

  u8(what = "a byte"): number {
    this.need(1, what)
    return this.view.getUint8(this.offset++)
  }

  u16(what = "a uint16"): number {
    this.need(2, what)
    const v = this.view.getUint16(this.offset, true)
    this.offset += 2
    return v
  }

  u32(what = "a uint32"): number {
    this.need(4, what)
    const v = this.view.getUint32(this.offset, true)
    this.offset += 4
    return v
  }

  i32(what = "an int32"): number {
    this.need(4, what)
    const v = this.view.getInt32(this.offset, true)
    this.offset += 4
    return v
  }

  /** A uint64 as a number; values above 2^53 cannot be valid sizes here and fail as "bounds". */
  u64(what = "a uint64"): number {
    this.need(8, what)
    const v = this.view.getBigUint64(this.offset, true)
    this.offset += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(this.file, "bounds", `${what} is ${v}, larger than any file we can read`)
    return Number(v)
  }

  f64BigEndian(what = "a float64"): number {
    this.need(8, what)
    const v = this.view.getFloat64(this.offset, false)
    this.offset += 8
    return v
  }

  /** The next `n` bytes as a view (no copy). */
  take(n: number, what = "data"): Uint8Array {
    this.need(n, what)
    const out = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Decodes UTF-8 strictly; invalid sequences fail as `reason` instead of turning into U+FFFD. */
export const decodeUtf8 = (bytes: Uint8Array, file: string, what: string): string => {
  try {
    return utf8.decode(bytes)
  } catch {
    return fail(file, "header", `${what} is not valid UTF-8`)
  }
}
