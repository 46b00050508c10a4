// Crash isolation with real worker threads: process.exit, an uncaught error, out of memory.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Exit as ExitTask, ExitNow, Hog, Inc, Sleep, ThrowUncaught, WhoAmI } from "./fixtures/tasks.ts"
import { eventually, teach, workerEntry } from "./helpers.ts"

const crashOf = <A, E>(exit: Exit.Exit<A, E>): WorkerCrashed => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  const value = (error as Option.Some<E>).value
  assert.instanceOf(value, WorkerCrashed)
  return value as WorkerCrashed
}

describe("crash isolation", () => {
  it.live(
    "process.exit fails only the calls on that worker, queued calls survive, and the pool returns to full size",
    () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          entry: workerEntry,
          minWorkers: 2,
          maxWorkers: 2,
          concurrentTasksPerWorker: 1
        })
        // Worker A sleeps, worker B exits; two more calls wait in the queue meanwhile.
        // Wide margins: on a loaded machine the queued calls below must be queued before the exit.
        const healthy = yield* Effect.forkChild(pool.run(Sleep, 2_000))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
        const doomed = yield* Effect.forkChild(Effect.exit(pool.run(ExitTask, { code: 3, delayMillis: 1_000 })))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 2)))
        const queued = yield* Effect.forkChild(
          Effect.all([pool.run(Inc, 1), pool.run(Inc, 2)], { concurrency: "unbounded" })
        )
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.queued === 2)))

        const crash = crashOf(yield* Fiber.join(doomed))
        assert.strictEqual(crash.exitCode, 3)
        assert.strictEqual(crash.reason, "exit")
        assert.isNull(crash.signal)
        assert.include(crash.message, "exit code 3")
        assert.strictEqual(yield* Fiber.join(healthy), 2_000, "the call on the other worker is untouched")
        assert.deepStrictEqual(yield* Fiber.join(queued), [2, 3], "nothing waiting in the queue is lost")

        yield* eventually(pool.stats.pipe(Effect.map((s) => s.workers === 2 && s.booting === 0)))
        const stats = yield* pool.stats
        assert.strictEqual(stats.crashed, 1)
        assert.strictEqual(stats.spawned, 3)
        assert.strictEqual(stats.failed, 1)
      })
  )

  it.live(
    "a crash deep in a pipeline of synchronous calls fails that call alone; the calls after it run on the next worker",
    () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          entry: workerEntry,
          minWorkers: 1,
          maxWorkers: 1,
          concurrentTasksPerWorker: 4,
          pipelineDepth: 64
        })
        // Known to complete synchronously (8 answers in a row each), so they are pipelined past 4.
        for (let i = 0; i < 10; i++) yield* pool.run(Inc, i)
        for (let i = 0; i < 10; i++) yield* pool.run(ExitNow, -1)
        // Started in one synchronous loop, so all 60 calls leave in one message: 30, the crash, 29 more.
        const fibers = yield* Effect.sync(() =>
          Array.from(
            { length: 60 },
            (_, i) => Effect.runFork(Effect.exit(i === 30 ? pool.run(ExitNow, 9) : pool.run(Inc, i)))
          )
        )
        const exits = yield* Effect.forEach(fibers, Fiber.join)
        const failed = exits.flatMap((exit, i) => Exit.isFailure(exit) ? [i] : [])
        // `process.exit` leaves the worker a last word: the answers of the 30 calls before it leave first.
        assert.deepStrictEqual(failed, [30])
        crashOf(exits[30]!)
        exits.forEach((exit, i) => {
          if (Exit.isSuccess(exit)) assert.strictEqual(exit.value, i + 1)
        })
        const stats = yield* pool.stats
        assert.isAbove(stats.redispatched, 4, "calls past concurrentTasksPerWorker had been sent, and never started")
        assert.strictEqual(stats.redispatched, 29, "every call after the crash went to the next worker")
        assert.strictEqual(stats.crashed, 1)
      })
  )

  it.live("an uncaught error in the worker fails its calls with WorkerCrashed (uncaught) carrying the message", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, minWorkers: 1, maxWorkers: 1 })
      const first = yield* pool.run(WhoAmI)
      // Known light, so both calls below share the only worker.
      yield* teach(pool.run(ThrowUncaught, -1))
      yield* teach(pool.run(Sleep, 1))
      const [crashed, alsoOnIt] = yield* Effect.all([
        Effect.exit(pool.run(ThrowUncaught, 50)),
        Effect.exit(pool.run(Sleep, 10_000))
      ], { concurrency: "unbounded" })
      const crash = crashOf(crashed)
      assert.strictEqual(crash.reason, "uncaught")
      assert.strictEqual(crash.exitCode, 1)
      assert.include(crash.detail, "RangeError: thrown outside any fiber")
      assert.strictEqual(crashOf(alsoOnIt).workerId, crash.workerId, "both calls were on the crashed worker")
      const second = yield* pool.run(WhoAmI)
      assert.notStrictEqual(second.threadId, first.threadId)
    }))

  it.live("running out of memory (resourceLimits) fails the call with WorkerCrashed (out-of-memory)", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({
        entry: workerEntry,
        minWorkers: 1,
        maxWorkers: 1,
        // Enough to boot a worker that loads effect (about 24 MB of heap), not enough for the hog.
        resourceLimits: { maxOldGenerationSizeMb: 32 }
      })
      const crash = crashOf(yield* Effect.exit(pool.run(Hog)))
      assert.strictEqual(crash.reason, "out-of-memory")
      assert.include(crash.detail, "out of memory")
      assert.strictEqual(yield* pool.run(Inc, 1), 2, "the replacement serves the next call")
    }))
})
