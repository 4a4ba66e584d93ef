/**
 * An encoder fed audio as it is generated: `encode` takes the next samples
 * and returns the bytes ready so far, `flush` the rest. Every speech format
 * (./encoders.ts) is one; its own module so that an encoder loaded on demand
 * (./aac.ts) and the table of encoders do not import each other.
 *
 * @since 0.5.0
 */

export interface StreamingEncoder {
  /** The bytes the next samples complete (possibly none yet). */
  readonly encode: (samples: Float32Array) => Promise<Uint8Array>
  /** The remaining bytes; the encoder is done after it. */
  readonly flush: () => Promise<Uint8Array>
  /** Releases the encoder's memory (WebAssembly heaps). */
  readonly free: () => void
}
