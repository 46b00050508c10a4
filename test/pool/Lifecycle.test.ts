// Sizing, idle shrink, recycling, graceful shutdown and metrics, with real worker threads.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Metric, Option } from "effect"
import { parallelism } from "../../src/domain/Config.ts"
import { PoolShutDown } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Fib, Inc, Sleep, WhoAmI } from "./fixtures/tasks.ts"
import { eventually, teach, threadsNamed, workerEntry } from "./helpers.ts"

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

describe("sizing", () => {
  it.live("starts minWorkers, grows with the load up to maxWorkers, spreads calls, and shrinks back when idle", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({
        entry: workerEntry,
        minWorkers: 1,
        maxWorkers: 3,
        idleTimeout: 100
      })
      assert.strictEqual((yield* pool.stats).workers, 1)
      yield* teach(pool.run(Sleep, 1)) // sleeping is light: once known, calls may share a worker
      const load = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 6 }, () => pool.run(Sleep, 60_000)), { concurrency: "unbounded" })
      )
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 6)))
      const busy = yield* pool.stats
      assert.strictEqual(busy.workers, 3)
      assert.strictEqual(busy.busy, 3, "the calls are spread over every worker")
      assert.strictEqual(busy.spawned, 3, "never more than maxWorkers")
      yield* Fiber.interrupt(load)
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.workers === 1)))
      assert.strictEqual(yield* pool.run(Inc, 1), 2)
    }))

  it.live("maxWorkers defaults to os.availableParallelism()", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry })
      yield* Effect.all(Array.from({ length: parallelism * 2 }, () => pool.run(Sleep, 200)), {
        concurrency: "unbounded"
      })
      assert.strictEqual((yield* pool.stats).spawned, parallelism)
    }))
})

describe("CPU-aware dispatch", () => {
  it.live("once a task is known to be CPU-bound, its calls wait for an idle worker instead of queueing in a busy one", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 16 })
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.workers === 2 && s.booting === 0)))
      function burn(millis: number): number {
        const end = Date.now() + millis
        let spins = 0
        while (Date.now() < end) spins++
        return spins
      }
      yield* pool.offload(burn, [50]) // the workers report it took 50 ms of CPU
      const calls = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 4 }, () => pool.offload(burn, [300])), { concurrency: "unbounded" })
      )
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.queued === 2)))
      const running = yield* pool.stats
      assert.strictEqual(running.inFlight, 2, "one CPU-bound call per worker")
      assert.strictEqual(running.busy, 2)
      assert.strictEqual((yield* Fiber.join(calls)).length, 4)
    }))
})

describe("recycling", () => {
  it.live("a worker is replaced after maxTasksPerWorker calls", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, minWorkers: 1, maxWorkers: 1, maxTasksPerWorker: 3 })
      const ids: Array<number> = []
      for (let i = 0; i < 4; i++) ids.push((yield* pool.run(WhoAmI)).threadId)
      assert.strictEqual(ids[0], ids[1])
      assert.strictEqual(ids[1], ids[2])
      assert.notStrictEqual(ids[3], ids[2])
      const stats = yield* pool.stats
      assert.strictEqual(stats.spawned, 2)
      assert.strictEqual(stats.crashed, 0)
    }))

  it.live("a worker whose heap passes maxHeapMb is replaced once its calls are done", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, minWorkers: 1, maxWorkers: 1, maxHeapMb: 40 })
      const first = yield* pool.run(WhoAmI)
      yield* pool.run(Inc, 1)
      assert.strictEqual((yield* pool.run(WhoAmI)).threadId, first.threadId, "below the threshold, the worker stays")
      yield* pool.offload(() => {
        const keep: Array<Array<number>> = []
        for (let i = 0; i < 60; i++) keep.push(Array.from({ length: 100_000 }, (_, j) => j))
        ;(globalThis as Record<string, unknown>).keep = keep
      }, [])
      assert.notStrictEqual((yield* pool.run(WhoAmI)).threadId, first.threadId, "the next call goes to a new worker")
      assert.strictEqual((yield* pool.stats).crashed, 0)
    }))
})

describe("graceful shutdown", () => {
  it.live("closing the scope lets in-flight and queued calls finish, then no worker thread is left", () =>
    Effect.gen(function*() {
      const { running, waiting } = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          entry: workerEntry,
          name: "grace",
          minWorkers: 1,
          maxWorkers: 1,
          concurrentTasksPerWorker: 1
        })
        const running = yield* Effect.forkDetach(pool.run(Sleep, 200))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
        const waiting = yield* Effect.forkDetach(pool.run(Inc, 41))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.queued === 1)))
        assert.strictEqual(threadsNamed("grace-")?.length ?? 1, 1)
        return { running, waiting }
      }))
      assert.strictEqual(yield* Fiber.join(running), 200)
      assert.strictEqual(yield* Fiber.join(waiting), 42)
      const left = threadsNamed("grace-")
      if (left !== undefined) assert.deepStrictEqual(left, [])
    }))

  it.live("past shutdownDeadline, unfinished calls fail with PoolShutDown and the workers are terminated", () =>
    Effect.gen(function*() {
      const call = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          entry: workerEntry,
          name: "deadline",
          minWorkers: 2,
          maxWorkers: 2,
          shutdownDeadline: 100
        })
        const call = yield* Effect.forkDetach(pool.run(Sleep, 60_000))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
        return call
      }))
      assert.instanceOf(errorOf(yield* Fiber.await(call)), PoolShutDown)
      const left = threadsNamed("deadline-")
      if (left !== undefined) assert.deepStrictEqual(left, [])
    }))
})

describe("metrics", () => {
  it.live("tasks completed and failed per task, workers, queue, wait and run times are in the registry", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, name: "metered", minWorkers: 1, maxWorkers: 1 })
      yield* Effect.forEach([1, 2, 3], (n) => pool.run(Inc, n))
      yield* Effect.exit(pool.run(Fib, 50))
      yield* Effect.exit(pool.run(Inc, "x" as unknown as number))
      const snapshot = yield* Metric.snapshot
      const find = (id: string, attributes: Record<string, string>) =>
        snapshot.find((m) =>
          m.id === id &&
          Object.entries(attributes).every(([k, v]) => (m.attributes as Record<string, string> | undefined)?.[k] === v)
        )
      const completedInc = find("orchestrator_pool_tasks_completed_total", { pool: "metered", task: "inc" })
      assert.strictEqual((completedInc?.state as { count: number }).count, 3)
      const failedFib = find("orchestrator_pool_tasks_failed_total", { pool: "metered", task: "fib" })
      assert.strictEqual((failedFib?.state as { count: number }).count, 1)
      const failedInc = find("orchestrator_pool_tasks_failed_total", { pool: "metered", task: "inc" })
      assert.strictEqual((failedInc?.state as { count: number }).count, 1, "bad input counts as a failure")
      assert.strictEqual((find("orchestrator_pool_workers", { pool: "metered" })?.state as { value: number }).value, 1)
      assert.strictEqual(
        (find("orchestrator_pool_queue_depth", { pool: "metered" })?.state as { value: number }).value,
        0
      )
      assert.strictEqual(
        (find("orchestrator_pool_busy_workers", { pool: "metered" })?.state as { value: number }).value,
        0
      )
      const runTime = find("orchestrator_pool_run_time_seconds", { pool: "metered" })?.state as Metric.HistogramState
      assert.strictEqual(runTime.count, 4)
      assert.isAbove(runTime.sum, 0)
      const waitTime = find("orchestrator_pool_wait_time_seconds", { pool: "metered" })?.state as Metric.HistogramState
      assert.strictEqual(waitTime.count, 4)
      const utilisation = (find("orchestrator_pool_utilisation", { pool: "metered" })?.state as { value: number }).value
      assert.isAbove(utilisation, 0)
      assert.isAtMost(utilisation, 1)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.live("at the pool's close the series keep their final values; a pool of the same name replaces them", () =>
    Effect.gen(function*() {
      const completed = (snapshot: ReadonlyArray<Metric.Metric.Snapshot>) =>
        snapshot.filter((m) => m.id === "orchestrator_pool_tasks_completed_total").map((m) =>
          (m.state as Metric.CounterState<number>).count
        )
      const use = (calls: number) =>
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ entry: workerEntry, name: "gone", minWorkers: 1, maxWorkers: 1 })
          yield* Effect.forEach(Array.from({ length: calls }, (_, i) => i), (n) => pool.run(Inc, n))
          return (yield* Metric.snapshot).length
        }))
      const live = yield* use(3)
      const closed = yield* Metric.snapshot
      assert.strictEqual(closed.length, live)
      assert.deepStrictEqual(completed(closed), [3])
      const workers = closed.find((m) => m.id === "orchestrator_pool_workers")?.state as Metric.GaugeState<number>
      assert.strictEqual(workers.value, 0, "the value at close: every worker stopped")
      // the same series again, not a second set
      assert.strictEqual(yield* use(2), live)
      const again = yield* Metric.snapshot
      assert.strictEqual(again.length, live)
      assert.deepStrictEqual(completed(again), [2])
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
