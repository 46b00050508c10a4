// Cancellation and hard timeouts with real worker threads.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { TaskTimeout, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Burn, Inc, Sleep, Spin, WhoAmI } from "./fixtures/tasks.ts"
import { eventually, teach, workerEntry } from "./helpers.ts"

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

/** One worker, so every call shares it. */
const onePool = (options: WorkerPool.Options = {}) =>
  WorkerPool.make({ entry: workerEntry, minWorkers: 1, maxWorkers: 1, ...options })

describe("cancellation", () => {
  it.live("interrupting a queued caller removes its call at once: it never runs", () =>
    Effect.gen(function*() {
      const pool = yield* onePool({ concurrentTasksPerWorker: 1 })
      const busy = yield* Effect.forkChild(pool.run(Sleep, 200))
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
      const queued = yield* Effect.forkChild(pool.run(Inc, 1))
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.queued === 1)))
      yield* Fiber.interrupt(queued)
      assert.strictEqual((yield* pool.stats).queued, 0)
      assert.strictEqual(yield* Fiber.join(busy), 200)
      const stats = yield* pool.stats
      assert.strictEqual(stats.completed, 1) // the Sleep only: the interrupted Inc was never sent
      assert.strictEqual(stats.inFlight, 0)
    }))

  it.live("interrupting a running caller interrupts its fiber in the worker, which keeps running", () =>
    Effect.gen(function*() {
      const pool = yield* onePool()
      const before = yield* pool.run(WhoAmI)
      const running = yield* Effect.forkChild(pool.run(Sleep, 30_000))
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
      yield* Fiber.interrupt(running)
      // The worker confirms the interruption; the slot is free again without terminating anything.
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 0)))
      const after = yield* pool.run(WhoAmI)
      assert.strictEqual(after.interrupted, before.interrupted + 1)
      assert.strictEqual(after.threadId, before.threadId)
      assert.strictEqual((yield* pool.stats).spawned, 1)
    }))
})

describe("timeouts", () => {
  it.live("a call past its timeout fails with TaskTimeout and is interrupted cooperatively in the worker", () =>
    Effect.gen(function*() {
      const pool = yield* onePool()
      const before = yield* pool.run(WhoAmI)
      const error = errorOf(yield* Effect.exit(pool.run(Sleep, 30_000, { timeout: "50 millis", taskId: "nap-1" })))
      assert.instanceOf(error, TaskTimeout)
      assert.strictEqual((error as TaskTimeout).taskId, "nap-1")
      assert.strictEqual((error as TaskTimeout).taskName, "sleep")
      assert.strictEqual((error as TaskTimeout).timeoutMillis, 50)
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 0)))
      const after = yield* pool.run(WhoAmI)
      assert.strictEqual(after.interrupted, before.interrupted + 1)
      assert.strictEqual(after.threadId, before.threadId, "cooperative interruption keeps the worker")
    }))

  it.live("the pool's taskTimeout applies to calls without their own timeout", () =>
    Effect.gen(function*() {
      const pool = yield* onePool({ taskTimeout: 50 })
      const error = errorOf(yield* Effect.exit(pool.run(Sleep, 30_000)))
      assert.instanceOf(error, TaskTimeout)
      // without a taskId of its own, a call is named by its task and its number in the pool
      assert.match((error as TaskTimeout).taskId, /^sleep#\d+$/)
      assert.strictEqual(yield* pool.run(Sleep, 1), 1)
    }))

  it.live(
    "a call that never yields gets its worker terminated after the grace period; a call that had started beside it fails, one that had not is sent again",
    () =>
      Effect.gen(function*() {
        const pool = yield* onePool({ concurrentTasksPerWorker: 4, terminationGrace: 100 })
        const first = yield* pool.run(WhoAmI)
        // Both tasks are known to be light, so the pool puts them on the same (only) worker.
        yield* teach(pool.run(Sleep, 1))
        yield* teach(pool.run(Spin, false))
        // The sibling is sent first, so it is running on the same worker when the spin starts.
        const sibling = yield* Effect.forkChild(pool.run(Sleep, 300))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
        const spin = yield* Effect.forkChild(Effect.exit(pool.run(Spin, true, { timeout: 100 })))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 2)))
        // Sent behind the spin: the stuck worker never takes it up.
        const behind = yield* Effect.forkChild(pool.run(Sleep, 1))
        assert.instanceOf(errorOf(yield* Fiber.join(spin)), TaskTimeout)
        const started = errorOf(yield* Effect.exit(Fiber.join(sibling)))
        assert.instanceOf(started, WorkerCrashed, "it had started: it is never sent again")
        assert.strictEqual((started as WorkerCrashed).reason, "terminated")
        assert.strictEqual(yield* Fiber.join(behind), 1, "it never started: it ran on the replacement")
        const stats = yield* pool.stats
        assert.strictEqual(stats.redispatched, 1)
        assert.strictEqual(stats.crashed, 0, "a deliberate termination is not a crash")
        assert.strictEqual(stats.spawned, 2)
        const second = yield* pool.run(WhoAmI)
        assert.notStrictEqual(second.threadId, first.threadId, "the spinning worker was replaced")
      })
  )

  it.live("interrupting the caller of a call that never yields also ends in termination and replacement", () =>
    Effect.gen(function*() {
      const pool = yield* onePool({ terminationGrace: 50 })
      const first = yield* pool.run(WhoAmI)
      const spinning = yield* Effect.forkChild(pool.run(Spin, true))
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
      yield* Fiber.interrupt(spinning)
      // The caller is released at once; the worker is replaced after the grace period.
      assert.strictEqual(yield* pool.run(Inc, 1), 2)
      const second = yield* pool.run(WhoAmI)
      assert.notStrictEqual(second.threadId, first.threadId)
      assert.strictEqual((yield* pool.stats).crashed, 0)
    }))

  describe("a CPU-bound call sent to wait behind the one its worker runs", () => {
    /** Blocks this thread, as a busy event loop would. */
    const blockFor = (millis: number): number => {
      const until = Date.now() + millis
      while (Date.now() < until) {
        // busy on purpose
      }
      return Date.now()
    }

    it.live("starts as soon as the one ahead ends, even while the pool's thread is busy", () =>
      Effect.gen(function*() {
        const pool = yield* onePool()
        yield* pool.run(Burn, 30) // the pool learns that the task is CPU-bound
        const first = yield* Effect.forkChild(pool.run(Burn, 60))
        const second = yield* Effect.forkChild(pool.run(Burn, 60))
        // Both are in the worker: the second waits there rather than in the pool's queue.
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 2 && s.queued === 0)))
        // Long enough that the second call starts well within it, even on a loaded machine.
        const unblocked = blockFor(800)
        const a = yield* Fiber.join(first)
        const b = yield* Fiber.join(second)
        assert.isAtLeast(b.startedAt, a.endedAt)
        assert.isBelow(b.startedAt, unblocked, "the second call did not wait for this thread")
      }))

    it.live("cancelled before it starts, it never runs, and its worker is kept", () =>
      Effect.gen(function*() {
        const pool = yield* onePool({ terminationGrace: 50 })
        const before = yield* pool.run(Burn, 30)
        // Long enough that the cancel surely comes before it ends, even on a loaded machine.
        const running = yield* Effect.forkChild(pool.run(Burn, 800))
        const waiting = yield* Effect.forkChild(pool.run(Burn, 30))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 2)))
        yield* Fiber.interrupt(waiting)
        const ran = yield* Fiber.join(running)
        assert.strictEqual(ran.runs, before.runs + 1)
        const after = yield* pool.run(Burn, 1)
        assert.strictEqual(after.runs, before.runs + 2, "the cancelled call was skipped")
        const stats = yield* pool.stats
        assert.strictEqual(stats.spawned, 1, "no worker was terminated")
        assert.strictEqual(stats.crashed, 0)
      }))
  })
})
