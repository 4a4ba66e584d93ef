/**
 * A compact description of a set of weights for trace metadata and logs:
 * how many tensors and parameters, how many bytes, and the dtype mix.
 *
 * @since 0.1.0
 */
import { bytesPerElement, type DType, numel } from "./Tensor.ts"

export interface WeightsSummary {
  readonly tensorCount: number
  /** Total number of elements over all tensors. */
  readonly parameters: number
  /** Total bytes of tensor data as stored. */
  readonly bytes: number
  /** Tensor count per storage dtype; dtypes that do not occur are absent. */
  readonly dtypes: Partial<Record<DType, number>>
}

export const summarize = (weights: ReadonlyMap<string, { readonly dtype: DType; readonly shape: ReadonlyArray<number> }>): WeightsSummary => {
  let parameters = 0
  let bytes = 0
  const dtypes: Partial<Record<DType, number>> = {}
  for (const tensor of weights.values()) {
    const count = numel(tensor.shape)
    parameters += count
    bytes += count * bytesPerElement(tensor.dtype)
    dtypes[tensor.dtype] = (dtypes[tensor.dtype] ?? 0) + 1
  }
  return { tensorCount: weights.size, parameters, bytes, dtypes }
}
