/**
 * Decoding several sequences on one causal model at once. A sequence's
 * decoding is a `Decoding`: a small state machine that says what it needs
 * next (a prefill of its own, or one step with a token) and takes the logits
 * that come back. A `Scheduler` drives many of them: each iteration it
 * admits waiting sequences (up to `maxBatch`), runs the prefills one by one,
 * then one step for all the others in a single run of the model, and retires
 * the finished and the cancelled. Sequences of different lengths, started at
 * different times, share every step: continuous batching, as TGI and vLLM
 * do it for LLMs.
 *
 * `drive` runs one decoding alone on `prefill`/`step`: the same machine, so
 * a sequence's tokens are the same whether it ran alone or in a batch (its
 * logits are; its sampler is its own).
 *
 * @since 0.4.0
 */
import type { Scope } from "effect"
import { Deferred, Effect, Exit, Fiber, Queue } from "effect"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import type { BatchSlot, CausalLM, DecoderBatch, DecoderState } from "../models.ts"

/** What a sequence needs next. */
export type Need<A> =
  | { readonly _tag: "prefill"; readonly ids: Int32Array; readonly mergeContext: boolean }
  | { readonly _tag: "step"; readonly id: number }
  | { readonly _tag: "done"; readonly value: A }

export interface Decoding<A> {
  readonly next: () => Need<A>
  /** The logits of the sequence's last position after the prefill or step it asked for, made in a run over `batch` sequences. */
  readonly accept: (logits: Float32Array, batch: number) => Effect.Effect<void>
}

export const prefill = (ids: Int32Array, mergeContext = false): Need<never> => ({ _tag: "prefill", ids, mergeContext })
export const step = (id: number): Need<never> => ({ _tag: "step", id })
export const done = <A>(value: A): Need<A> => ({ _tag: "done", value })

/** Runs one decoding alone. */
export const drive = <A>(model: CausalLM, decoding: Decoding<A>): Effect.Effect<A, InferenceError> =>
  Effect.gen(function*() {
    let state: DecoderState | undefined
    for (let first = true;; first = false) {
      const need = decoding.next()
      if (need._tag === "done") return need.value
      if (!first) yield* Effect.yieldNow
      const out = need._tag === "prefill"
        ? yield* model.prefill(need.ids, need.mergeContext ? { mergeContext: true } : undefined)
        : yield* model.step(state!, need.id)
      state = out.state
      yield* decoding.accept(out.logits, 1)
    }
  })

/** The batch of `model`, or, for a model without one, a batch that runs each sequence alone (same results, no speed-up). */
const batchOf = (model: CausalLM): DecoderBatch => model.batch?.() ?? sequentialBatch(model)

const sequentialBatch = (model: CausalLM): DecoderBatch => {
  const states = new Map<BatchSlot, DecoderState>()
  return {
    get size() {
      return states.size
    },
    prefill: (ids, options) =>
      Effect.map(model.prefill(ids, options?.mergeContext === true ? { mergeContext: true } : undefined), (out) => {
        const slot = (options?.restart ?? { length: 0 }) as { length: number }
        slot.length = out.state.length
        states.set(slot, out.state)
        return { slot, logits: out.logits }
      }),
    step: (entries) =>
      Effect.forEach(entries, ({ slot, id }) =>
        Effect.map(model.step(states.get(slot)!, id), (out) => {
          states.set(slot, out.state)
          ;(slot as { length: number }).length = out.state.length
          return out.logits
        })),
    release: (slot) => void states.delete(slot)
  }
}

export interface Scheduler {
  /** Decodes a sequence in the running batch; interrupting it takes the sequence out at the next step. */
  readonly submit: <A>(decoding: Decoding<A>) => Effect.Effect<A, InferenceError>
  /** Sequences decoding now. */
  readonly active: () => number
  /** Sequences waiting for a place in the batch. */
  readonly waiting: () => number
}

interface Entry {
  readonly decoding: Decoding<unknown>
  readonly result: Deferred.Deferred<unknown, InferenceError>
  slot: BatchSlot | undefined
  cancelled: boolean
}

export interface SchedulerOptions {
  /** Sequences decoded together at most. */
  readonly maxBatch: number
  /** Called after each batched step with the number of sequences in it. */
  readonly onStep?: (size: number) => Effect.Effect<void>
}

/** A scheduler on `model`, its loop running until the scope closes. */
export const make = (model: CausalLM, options: SchedulerOptions): Effect.Effect<Scheduler, never, Scope.Scope> =>
  Effect.gen(function*() {
    const batch = batchOf(model)
    const waiting: Array<Entry> = []
    const active: Array<Entry> = []
    const wake = yield* Queue.sliding<void>(1)

    const retire = (entry: Entry, exit: Exit.Exit<unknown, InferenceError>) =>
      Effect.suspend(() => {
        if (entry.slot !== undefined) batch.release(entry.slot)
        entry.slot = undefined
        active.splice(active.indexOf(entry), 1)
        return Deferred.done(entry.result, exit)
      })

    const iteration = Effect.gen(function*() {
      while (active.length < options.maxBatch && waiting.length > 0) active.push(waiting.shift()!)
      const stepping: Array<{ readonly entry: Entry; readonly id: number }> = []
      for (const entry of [...active]) {
        if (entry.cancelled) {
          yield* retire(entry, Exit.interrupt())
          continue
        }
        const need = entry.decoding.next()
        if (need._tag === "done") {
          yield* retire(entry, Exit.succeed(need.value))
        } else if (need._tag === "prefill") {
          const out = yield* Effect.exit(batch.prefill(need.ids, {
            mergeContext: need.mergeContext,
            ...(entry.slot === undefined ? {} : { restart: entry.slot })
          }))
          if (Exit.isFailure(out)) {
            yield* retire(entry, out)
          } else {
            entry.slot = out.value.slot
            yield* entry.decoding.accept(out.value.logits, 1)
          }
        } else {
          stepping.push({ entry, id: need.id })
        }
      }
      if (stepping.length === 0) return
      const out = yield* Effect.exit(batch.step(stepping.map(({ entry, id }) => ({ slot: entry.slot!, id }))))
      if (Exit.isFailure(out)) {
        for (const { entry } of stepping) yield* retire(entry, out)
        return
      }
      if (options.onStep !== undefined) yield* options.onStep(stepping.length)
      for (const [i, { entry }] of stepping.entries()) yield* entry.decoding.accept(out.value[i]!, stepping.length)
    })

    const loop = Effect.gen(function*() {
      while (true) {
        if (active.length === 0 && waiting.length === 0) yield* Queue.take(wake)
        yield* iteration
        yield* Effect.yieldNow
      }
    })
    const fiber = yield* Effect.forkScoped(loop)
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))

    const submit = <A>(decoding: Decoding<A>): Effect.Effect<A, InferenceError> =>
      Effect.gen(function*() {
        const result = yield* Deferred.make<unknown, InferenceError>()
        const entry: Entry = { decoding: decoding as Decoding<unknown>, result, slot: undefined, cancelled: false }
        waiting.push(entry)
        yield* Queue.offer(wake, undefined)
        return (yield* Deferred.await(result).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              const at = waiting.indexOf(entry)
              if (at >= 0) waiting.splice(at, 1)
              else entry.cancelled = true
            })
          )
        )) as A
      })

    return { submit, active: () => active.length, waiting: () => waiting.length }
  })

/** Decodes `decodings` together (at most `maxBatch` at a time) and returns their results in order. */
export const decodeAll = <A>(model: CausalLM, decodings: ReadonlyArray<Decoding<A>>, maxBatch: number) =>
  Effect.scoped(Effect.gen(function*() {
    const scheduler = yield* make(model, { maxBatch })
    return yield* Effect.forEach(decodings, (d) => scheduler.submit(d), { concurrency: "unbounded" })
  }))
