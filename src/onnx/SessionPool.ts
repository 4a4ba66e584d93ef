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
 * `replace` swaps a model's session for one made another way (e.g. an
 * optimised copy) without changing the handle, so objects holding the handle
 * (and their key/value caches) keep working.
 *
 * `releaseAll` closes every open session while keeping the handles: a later
 * run reopens its model's session from its spec, as offload mode does. It is
 * for owners that hand generation elsewhere (a worker thread with its own
 * sessions) and want the memory back.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Scope, Semaphore } from "effect"
import { InferenceBackend, type ModelSource, type Session, type SessionOptions } from "./InferenceBackend.ts"
import { InferenceError } from "./InferenceError.ts"

export type PoolMode = "resident" | "offload"

/** How a model's session is created. */
export interface SessionSpec {
  readonly source: ModelSource
  readonly options: SessionOptions
}

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
  /** The models registered, in registration order. */
  readonly models: () => ReadonlyArray<string>
  readonly spec: (model: string) => SessionSpec | undefined
  /**
   * Creates `model`'s session from `spec` now, releasing its current one. On
   * failure the previous spec is restored (and its session re-created in
   * resident mode) and the error is returned.
   */
  readonly replace: (model: string, spec: SessionSpec) => Effect.Effect<void, InferenceError>
  /** Closes every open session, waiting for runs in progress, and returns how many it closed; a later run reopens its model's. */
  readonly releaseAll: Effect.Effect<number>
  /** Changes how `model`'s next session is created, without touching the open one. */
  readonly respec: (model: string, spec: SessionSpec) => Effect.Effect<void>
  readonly stats: Effect.Effect<PoolStats>
}

export interface PoolOptions {
  readonly mode: PoolMode
  /** Turns a spec's source into what the backend loads, each time a session is created (e.g. reads a cached graph). */
  readonly load?: (source: ModelSource, model: string) => Effect.Effect<ModelSource, InferenceError>
  /** Options added to every registered session's (e.g. the optimisation level). */
  readonly sessionOptions?: Omit<SessionOptions, "model">
}

interface Slot {
  spec: SessionSpec
  open: { readonly session: Session; readonly scope: Scope.Closeable } | undefined
}

/** Concurrent runs allowed in resident mode; `replace` waits for all of them. */
const RESIDENT_PERMITS = 1024

/** A pool on `backend`; every session is released when the enclosing scope closes. */
export const make = Effect.fn("SessionPool.make")(function*(backend: typeof InferenceBackend.Service, options: PoolOptions) {
  const poolScope = yield* Effect.scope
  const load = options.load ?? ((source: ModelSource) => Effect.succeed(source))
  const runs = yield* Semaphore.make(options.mode === "offload" ? 1 : RESIDENT_PERMITS)
  const transitions = yield* Semaphore.make(1)
  const slots = new Map<string, Slot>()
  let created = 0
  let released = 0

  const slotOf = (model: string) =>
    Effect.suspend(() => {
      const slot = slots.get(model)
      return slot === undefined
        ? Effect.fail(
          new InferenceError({
            model,
            message: `the session of ${model} was released with the scope that created it`,
            remediation: "use models only inside the scope (pipeline run) that loaded them"
          })
        )
        : Effect.succeed(slot)
    })

  const close = (slot: Slot) =>
    Effect.suspend(() => {
      const open = slot.open
      if (open === undefined) return Effect.void
      slot.open = undefined
      released++
      return Scope.close(open.scope, Exit.void)
    })

  const open = (model: string, slot: Slot) =>
    Effect.gen(function*() {
      if (options.mode === "offload") yield* Effect.forEach(slots.values(), close, { discard: true })
      const scope = yield* Scope.fork(poolScope)
      const session = yield* Effect.flatMap(load(slot.spec.source, model), (source) => backend.createSession(source, slot.spec.options)).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      created++
      slot.open = { session, scope }
      return session
    })

  const ensureOpen = (model: string) =>
    Effect.flatMap(slotOf(model), (slot) =>
      slot.open !== undefined
        ? Effect.succeed(slot.open.session)
        : transitions.withPermit(Effect.suspend(() => slot.open !== undefined ? Effect.succeed(slot.open.session) : open(model, slot))))

  const handle = (model: string, first: Session): Session => ({
    inputNames: first.inputNames,
    outputNames: first.outputNames,
    run: (feeds, fetches) => runs.withPermit(Effect.flatMap(ensureOpen(model), (session) => session.run(feeds, fetches)))
  })

  /** Runs `effect` with no model call in progress and no session opening. */
  const exclusive = <A, E>(effect: Effect.Effect<A, E>) =>
    runs.withPermits(options.mode === "offload" ? 1 : RESIDENT_PERMITS)(transitions.withPermit(effect))

  const register = (source: ModelSource, sessionOptions: SessionOptions) =>
    Effect.acquireRelease(
      exclusive(Effect.gen(function*() {
        let model = sessionOptions.model
        for (let n = 2; slots.has(model); n++) model = `${sessionOptions.model}#${n}`
        const slot: Slot = { spec: { source, options: { ...options.sessionOptions, ...sessionOptions } }, open: undefined }
        slots.set(model, slot)
        const session = yield* open(model, slot).pipe(Effect.onError(() => Effect.sync(() => slots.delete(model))))
        return { model, slot, session }
      })),
      ({ model, slot }) => Effect.andThen(close(slot), Effect.sync(() => slots.delete(model)))
    ).pipe(Effect.map(({ model, session }) => handle(model, session)))

  const replace = (model: string, spec: SessionSpec) =>
    exclusive(Effect.gen(function*() {
      const slot = yield* slotOf(model)
      const previous = slot.spec
      const wasOpen = slot.open !== undefined
      yield* close(slot)
      slot.spec = spec
      yield* Effect.asVoid(open(model, slot)).pipe(Effect.tapError(() =>
        Effect.gen(function*() {
          slot.spec = previous
          if (wasOpen && options.mode === "resident") yield* Effect.ignore(open(model, slot))
        })
      ))
    }))

  const pool: SessionPool = {
    mode: options.mode,
    backend: InferenceBackend.of({ name: backend.name, providers: backend.providers, createSession: register }),
    models: () => [...slots.keys()],
    spec: (model) => slots.get(model)?.spec,
    replace,
    releaseAll: exclusive(Effect.suspend(() => {
      const before = released
      return Effect.map(Effect.forEach(slots.values(), close, { discard: true }), () => released - before)
    })),
    respec: (model, spec) =>
      transitions.withPermit(Effect.sync(() => {
        const slot = slots.get(model)
        if (slot !== undefined) slot.spec = spec
      })),
    stats: Effect.sync(() => ({
      created,
      released,
      open: [...slots.entries()].filter(([, s]) => s.open !== undefined).map(([m]) => m)
    }))
  }
  return pool
})
