// A call's observer (`TrackedCallOptions.observer`, how the orchestrator's direct path counts its metrics) hears
// once how each call ended, on every way a call can end: answered, failed, rejected before it was queued, past
// the queue's capacity, its caller interrupted while it waited or while it ran.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import type { CallObserver } from "../../src/runtime/pool/Call.ts"
import type { TrackedCallOptions } from "../../src/runtime/pool/CallEncoding.ts"
import { serve } from "../../src/runtime/worker/Server.ts"

class Refused extends Schema.TaggedError<Refused>()("Refused", { label: Schema.String }) {}
const Step = WorkerTask.make("step", { payload: Schema.String, success: Schema.String, error: Refused })

let gate: Deferred.Deferred<void> | undefined
const served = serve(WorkerTask.group(Step), {
  step: (label) =>
    label === "refuse"
      ? Effect.fail(new Refused({ label }))
      : label === "hold" && gate !== undefined
      ? Effect.as(Deferred.await(gate), label)
      : Effect.succeed(label)
})

interface Heard {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly queueWaitMillis: number
  readonly runMillis: number
}

const observer = (): CallObserver & { readonly heard: Array<Heard> } => {
  const heard: Array<Heard> = []
  return { heard, settled: (exit, queueWaitMillis, runMillis) => heard.push({ exit, queueWaitMillis, runMillis }) }
}

// `pool.run` takes the wider options as the orchestrator passes them
const run = (pool: WorkerPool.WorkerPool["Service"], label: string, options: TrackedCallOptions) =>
  (pool.run as (task: typeof Step, payload: string, options: TrackedCallOptions) => Effect.Effect<string, unknown>)(
    Step,
    label,
    options
  )

const failureTag = (exit: Exit.Exit<unknown, unknown>): string | undefined =>
  Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail"
    ? (exit.cause.reasons[0].error as { _tag: string })._tag
    : undefined

const interruptedOnly = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.length > 0 && exit.cause.reasons.every((r) => r._tag === "Interrupt")

const Pool = WorkerPool.layerTest(served, { concurrentTasksPerWorker: 1, queue: { capacity: 1, overflow: "fail" } })

describe("a pool call's observer", () => {
  it.effect("hears an answer and a task's own failure once each, with their timings", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      const ok = observer()
      const refused = observer()
      assert.strictEqual(yield* run(pool, "ok", { observer: ok }), "ok")
      const error = yield* Effect.flip(run(pool, "refuse", { observer: refused }))
      assert.instanceOf(error, Refused)
      assert.lengthOf(ok.heard, 1)
      assert.isTrue(Exit.isSuccess(ok.heard[0]!.exit))
      assert.isAtLeast(ok.heard[0]!.queueWaitMillis, 0)
      assert.isAtLeast(ok.heard[0]!.runMillis, 0)
      assert.lengthOf(refused.heard, 1)
      assert.strictEqual(failureTag(refused.heard[0]!.exit), "Refused")
    }).pipe(Effect.provide(Pool)))

  it.effect("hears a rejection before the queue (bad payload) and one past its capacity, with no timings", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      gate = yield* Deferred.make<void>()
      const bad = observer()
      yield* Effect.exit(run(pool, 42 as never, { observer: bad }))
      assert.lengthOf(bad.heard, 1)
      assert.deepStrictEqual([failureTag(bad.heard[0]!.exit), bad.heard[0]!.queueWaitMillis], ["PayloadInvalid", 0])
      const running = yield* Effect.forkChild(run(pool, "hold", {}), { startImmediately: true })
      const queued = yield* Effect.forkChild(run(pool, "queued", {}), { startImmediately: true })
      const full = observer()
      const over = yield* Effect.exit(run(pool, "over", { observer: full }))
      assert.strictEqual(failureTag(over), "QueueFull")
      assert.lengthOf(full.heard, 1)
      assert.deepStrictEqual(
        [failureTag(full.heard[0]!.exit), full.heard[0]!.queueWaitMillis, full.heard[0]!.runMillis],
        ["QueueFull", 0, 0]
      )
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      yield* Fiber.join(queued)
      gate = undefined
    }).pipe(Effect.provide(Pool)))

  it.effect("hears an interruption when its caller is interrupted, queued (no run time) or running", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      gate = yield* Deferred.make<void>()
      const held = observer()
      const waiting = observer()
      const running = yield* Effect.forkChild(run(pool, "hold", { observer: held }), { startImmediately: true })
      const queued = yield* Effect.forkChild(run(pool, "queued", { observer: waiting }), { startImmediately: true })
      yield* Effect.yieldNow
      yield* Fiber.interrupt(queued)
      assert.lengthOf(waiting.heard, 1)
      assert.isTrue(interruptedOnly(waiting.heard[0]!.exit))
      assert.strictEqual(waiting.heard[0]!.runMillis, 0)
      yield* Fiber.interrupt(running)
      assert.lengthOf(held.heard, 1)
      assert.isTrue(interruptedOnly(held.heard[0]!.exit))
      yield* Deferred.succeed(gate, undefined)
      // the worker's late answer for the abandoned call is not heard again
      assert.strictEqual(yield* run(pool, "after", {}), "after")
      assert.lengthOf(held.heard, 1)
      gate = undefined
    }).pipe(Effect.provide(Pool)))
})
