/**
 * OpenAI's `speed` (0.25–4): the audio time-stretched with its pitch kept,
 * by WSOLA (waveform-similarity overlap-add, `@audio/stretch-wsola`), which
 * suits speech: each output frame is the input frame near its nominal place
 * that best continues the output, so no phase vocoder smearing. Streamed
 * audio goes through one stretcher chunk by chunk.
 *
 * @since 0.3.0
 */
import wsola from "@audio/stretch-wsola"

export const MIN_SPEED = 0.25
export const MAX_SPEED = 4

export interface Stretcher {
  /** The stretched audio the next samples complete. */
  readonly push: (samples: Float32Array) => Float32Array
  /** The rest. */
  readonly end: () => Float32Array
}

const empty = new Float32Array(0)

/** A stretcher to `1 / speed` of the duration; speed 1 passes audio through untouched. */
export const stretcher = (speed: number): Stretcher => {
  if (speed === 1) return { push: (samples) => samples, end: () => empty }
  const write = wsola({ factor: 1 / speed })
  return { push: (samples) => write(samples), end: () => write() }
}

/** Whole audio at `speed`. */
export const stretch = (samples: Float32Array, speed: number): Float32Array => speed === 1 ? samples : wsola(samples, { factor: 1 / speed })
