/**
 * A minimal zip writer for checkpoint tests: stored or deflated entries, and
 * optionally the ZIP64 end records and extra fields (forced even for small
 * files, the way a >4 GiB archive such as bark's pytorch_model.bin has them),
 * so the reader's ZIP64 path is exercised without writing gigabytes.
 *
 * @since 0.1.0
 */
import { crc32, deflateRawSync } from "node:zlib"

export interface ZipInput {
  readonly name: string
  readonly data: Uint8Array
  readonly method?: "stored" | "deflate"
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

const record = (size: number, fill: (view: DataView) => void): Uint8Array => {
  const bytes = new Uint8Array(size)
  fill(new DataView(bytes.buffer))
  return bytes
}

export const makeZip = (inputs: ReadonlyArray<ZipInput>, options: { readonly zip64?: boolean } = {}): Uint8Array => {
  const zip64 = options.zip64 ?? false
  const encoder = new TextEncoder()
  const locals: Array<Uint8Array> = []
  const centrals: Array<Uint8Array> = []
  let offset = 0
  for (const input of inputs) {
    const name = encoder.encode(input.name)
    const deflate = input.method === "deflate"
    const body = deflate ? new Uint8Array(deflateRawSync(input.data)) : input.data
    const crc = crc32(input.data)
    const local = record(30, (v) => {
      v.setUint32(0, 0x04034b50, true)
      v.setUint16(4, 20, true)
      v.setUint16(8, deflate ? 8 : 0, true)
      v.setUint32(14, crc, true)
      v.setUint32(18, body.byteLength, true)
      v.setUint32(22, input.data.byteLength, true)
      v.setUint16(26, name.byteLength, true)
    })
    locals.push(local, name, body)
    const extra = zip64
      ? record(28, (v) => {
        v.setUint16(0, 0x0001, true)
        v.setUint16(2, 24, true)
        v.setBigUint64(4, BigInt(input.data.byteLength), true)
        v.setBigUint64(12, BigInt(body.byteLength), true)
        v.setBigUint64(20, BigInt(offset), true)
      })
      : new Uint8Array(0)
    const central = record(46, (v) => {
      v.setUint32(0, 0x02014b50, true)
      v.setUint16(4, 45, true)
      v.setUint16(6, 45, true)
      v.setUint16(10, deflate ? 8 : 0, true)
      v.setUint32(16, crc, true)
      v.setUint32(20, zip64 ? 0xffffffff : body.byteLength, true)
      v.setUint32(24, zip64 ? 0xffffffff : input.data.byteLength, true)
      v.setUint16(28, name.byteLength, true)
      v.setUint16(30, extra.byteLength, true)
      v.setUint32(42, zip64 ? 0xffffffff : offset, true)
    })
    centrals.push(central, name, extra)
    offset += local.byteLength + name.byteLength + body.byteLength
  }
  const directory = concat(centrals)
  const tail: Array<Uint8Array> = []
  if (zip64) {
    const recordAt = offset + directory.byteLength
    tail.push(
      record(56, (v) => {
        v.setUint32(0, 0x06064b50, true)
        v.setBigUint64(4, 44n, true)
        v.setUint16(12, 45, true)
        v.setUint16(14, 45, true)
        v.setBigUint64(24, BigInt(inputs.length), true)
        v.setBigUint64(32, BigInt(inputs.length), true)
        v.setBigUint64(40, BigInt(directory.byteLength), true)
        v.setBigUint64(48, BigInt(offset), true)
      }),
      record(20, (v) => {
        v.setUint32(0, 0x07064b50, true)
        v.setBigUint64(8, BigInt(recordAt), true)
        v.setUint32(16, 1, true)
      })
    )
  }
  tail.push(record(22, (v) => {
    v.setUint32(0, 0x06054b50, true)
    v.setUint16(8, zip64 ? 0xffff : inputs.length, true)
    v.setUint16(10, zip64 ? 0xffff : inputs.length, true)
    v.setUint32(12, zip64 ? 0xffffffff : directory.byteLength, true)
    v.setUint32(16, zip64 ? 0xffffffff : offset, true)
  }))
  return concat([...locals, directory, ...tail])
}
