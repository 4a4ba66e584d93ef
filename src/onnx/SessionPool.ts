/**
 * Sessions created on demand within a memory budget, behind stable handles.
 *
 * The pool is itself an `InferenceBackend`: code that takes a backend (the
 * Bark sub-model constructors) gets from `createSession` a handle whose `run`
 * goes through the pool. In `resident` mode every session is created once and
 * kept. In `offload` mode at most one is open: running another model releases
 * the open one and creates that model's session, so memory holds one model at
 * a time, and a run of consecutive calls to one model (all the semantic steps)
 * uses one session. Calls are serialised in offload mode.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Scope, Semaphore } from "effect"
import { InferenceBackend, type ModelSource, type Session, type SessionOptions } from "./InferenceBackend.ts"
import { InferenceError } from "./InferenceError.ts"

export type PoolMode = "resident" | "offload"

export interface PoolStats {
  readonly created: number
  readonly released: number
  /** Models whose session is open now. */
  readonly open: ReadonlyArray<string>
}

export interface SessionPool {
  readonly mode: PoolMode
  /** Creates handles into this pool. */
  readonly backend: typeof InferenceBackend.Service
  readonly stats: Effect.Effect<PoolStats>
}

interface Slot {
  readonly source: ModelSource
  readonly options: SessionOptions
  open: { readonly session: Session; readonly scope: Scope.Closeable } | undefined
}

/** A pool on `backend`; every session is released when the enclosing scope closes. */
export const make = Effect.fn("SessionPool.make")(function*(backend: typeof InferenceBackend.Service, options: { readonly mode: PoolMode }) {
  const poolScope = yield* Effect.scope
  // Offload serialises runs, so no session is released while another model's call is in flight.
  const runs = yield* Semaphore.make(options.mode === "offload" ? 1 : Number.MAX_SAFE_INTEGER)
  const transitions = yield* Semaphore.make(1)
  const slots = new Map<string, Slot>()
  let created = 0
  let released = 0

  const close = (slot: Slot) =>
    Effect.suspend(() => {
      const open = slot.open
      if (open === undefined) return Effect.void
      slot.open = undefined
      released++
      return Scope.close(open.scope, Exit.void)
    })

  const open = (slot: Slot) =>
    Effect.gen(function*() {
      if (options.mode === "offload") yield* Effect.forEach(slots.values(), close, { discard: true })
      const scope = yield* Scope.fork(poolScope)
      const session = yield* backend.createSession(slot.source, slot.options).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      created++
      slot.open = { session, scope }
      return session
    })

  const ensureOpen = (model: string) =>
    Effect.suspend(() => {
      const slot = slots.get(model)
      if (slot === undefined) {
        return Effect.fail(
          new InferenceError({
            model,
            message: `the session of ${model} was released with the scope that created it`,
            remediation: "use models only inside the scope (pipeline run) that loaded them"
          })
        )
      }
      return slot.open !== undefined
        ? Effect.succeed(slot.open.session)
        : transitions.withPermit(Effect.suspend(() => slot.open !== undefined ? Effect.succeed(slot.open.session) : open(slot)))
    })

  const handle = (model: string, first: Session): Session => ({
    inputNames: first.inputNames,
    inputTypes: first.inputTypes,
    outputNames: first.outputNames,
    run: (feeds, fetches) => runs.withPermit(Effect.flatMap(ensureOpen(model), (session) => session.run(feeds, fetches)))
  })

  const register = (source: ModelSource, sessionOptions: SessionOptions) =>
    Effect.acquireRelease(
      transitions.withPermit(Effect.gen(function*() {
        let model = sessionOptions.model
        for (let n = 2; slots.has(model); n++) model = `${sessionOptions.model}#${n}`
        const slot: Slot = { source, options: sessionOptions, open: undefined }
        slots.set(model, slot)
        const session = yield* open(slot).pipe(Effect.onError(() => Effect.sync(() => slots.delete(model))))
        return { model, slot, session }
      })),
      ({ model, slot }) => Effect.andThen(close(slot), Effect.sync(() => slots.delete(model)))
    ).pipe(Effect.map(({ model, session }) => handle(model, session)))

  const pool: SessionPool = {
    mode: options.mode,
    backend: InferenceBackend.of({ ...backend, createSession: register }),
    stats: Effect.sync(() => ({
      created,
      released,
      open: [...slots.entries()].filter(([, s]) => s.open !== undefined).map(([m]) => m)
    }))
  }
  return pool
})
