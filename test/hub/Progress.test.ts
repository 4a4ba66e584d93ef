import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { type ProgressEvent, progressReporter } from "../../src/hub/Progress.ts"

describe("progressReporter", () => {
  it.effect("emits at most one event per interval, then a final one with the rate and ETA", () =>
    Effect.gen(function*() {
      const events: Array<ProgressEvent> = []
      const progress = yield* progressReporter({
        file: "model.bin",
        total: 1000,
        startBytes: 200,
        onProgress: (e) => Effect.sync(() => events.push(e)),
        intervalMillis: 100
      })
      yield* progress.update(300) // first update is emitted
      yield* TestClock.adjust("50 millis")
      yield* progress.update(400) // throttled
      yield* TestClock.adjust("50 millis")
      yield* progress.update(600) // 100 ms after the first: emitted
      assert.deepStrictEqual(events.map((e) => e.bytes), [300, 600])
      const second = events[1]!
      assert.strictEqual(second.bytesPerSecond, 4000) // 400 new bytes in 0.1 s
      assert.strictEqual(second.etaSeconds, 0.1) // 400 left at 4000 B/s

      yield* progress.done(1000) // never throttled
      assert.deepStrictEqual(events.at(-1), {
        file: "model.bin",
        bytes: 1000,
        total: 1000,
        bytesPerSecond: 8000,
        etaSeconds: 0
      })
    }))

})
