/**
 * The progress callback a generation step gets: the request's `onProgress`
 * told which chunk and stage the tokens are for, and the largest batch the
 * step's tokens were decoded in, for the stage's metadata.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import type { GenerationStage } from "../generate/generate.ts"
import type { Progress } from "../generate/Progress.ts"
import type { CurrentChunk, SynthesisRequest } from "./services.ts"

export interface StepProgress {
  readonly onProgress: Progress
  /** The most sequences decoded together in a step of this stage (1 alone). */
  readonly largestBatch: () => number
}

export const stepProgress = (
  request: SynthesisRequest["Service"],
  current: CurrentChunk["Service"],
  stage: GenerationStage
): StepProgress => {
  const report = request.options.onProgress
  let largest = 1
  return {
    onProgress: (done, total, batch) => {
      if (batch !== undefined && batch > largest) largest = batch
      return report === undefined
        ? Effect.void
        : report({ chunk: current.index, chunks: current.count, stage, done, total, ...(batch === undefined ? {} : { batch }) })
    },
    largestBatch: () => largest
  }
}
