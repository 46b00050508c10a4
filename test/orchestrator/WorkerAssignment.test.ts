// TaskResult.workerId: the pool tells a task's WorkerAssignment cell which worker each call went to.
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Task } from "../../src/index.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { execute } from "../../src/runtime/orchestrator/TaskExecution.ts"
import * as WorkerAssignment from "../../src/runtime/pool/WorkerAssignment.ts"
import { serve } from "../../src/runtime/worker/Server.ts"
import { handlers } from "../pool/fixtures/handlers.ts"
import { Exit as ExitTask, Fib, Inc, Sleep, Tasks } from "../pool/fixtures/tasks.ts"
import { eventually, workerEntry } from "../pool/helpers.ts"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

layer(WorkerPool.layer({ entry: workerEntry, minWorkers: 2, maxWorkers: 2 }), {
  excludeTestServices: true,
  timeout: 30_000
})("a real pool of two workers", (it) => {
  const bothReady = eventually(Effect.map(WorkerPool.stats, (s) => s.idle === 2))

  it.effect("two concurrent calls report the two workers, ids that the pool's stats list", () =>
    Effect.gen(function*() {
      yield* bothReady
      const pool = yield* WorkerPool.WorkerPool
      // Asynchronous calls: both go to an idle worker, one each.
      const results = yield* Effect.all([
        execute(Task.make(pool.run(Sleep, 100), { kind: "cpu" })),
        execute(Task.make(pool.run(Sleep, 100), { kind: "cpu" }))
      ], { concurrency: 2 })
      const stats = yield* pool.stats
      const ids = results.map((r) => r.workerId)
      for (const id of ids) {
        assert.isNumber(id)
        assert.include(stats.workerIds, id)
      }
      assert.notStrictEqual(ids[0], ids[1])
      assert.deepStrictEqual([...ids].sort(), [...stats.workerIds].sort())
    }))

  it.effect("offloaded functions report their worker too", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      const result = yield* execute(Task.make(pool.offload((n: number) => n * 2, [21]), { kind: "cpu" }))
      assert.deepStrictEqual(result.exit, Exit.succeed(42))
      assert.include((yield* pool.stats).workerIds, result.workerId)
    }))

  it.effect("an io task reports no worker, even one that calls the pool (io tasks get no cell)", () =>
    Effect.gen(function*() {
      const result = yield* execute(Task.make(Effect.succeed("main")))
      assert.deepStrictEqual(result.exit, Exit.succeed("main"))
      assert.isFalse("workerId" in result)
      const calling = yield* execute(Task.make(WorkerPool.run(Inc, 1), { kind: "io" }))
      assert.deepStrictEqual(calling.exit, Exit.succeed(2))
      assert.isFalse("workerId" in calling)
    }))

  it.effect("blocking tasks report their worker as cpu tasks do", () =>
    Effect.gen(function*() {
      const result = yield* execute(Task.make(WorkerPool.offload(() => 1, []), { kind: "blocking" }))
      assert.include((yield* WorkerPool.stats).workerIds, result.workerId)
    }))

  it.effect("a task whose worker crashes names the worker that WorkerCrashed names", () =>
    Effect.gen(function*() {
      yield* bothReady
      const pool = yield* WorkerPool.WorkerPool
      const result = yield* execute(Task.make(pool.run(ExitTask, { code: 3, delayMillis: 0 }), { kind: "cpu" }))
      const error = failureOf(result.exit)
      assert.strictEqual(error._tag, "WorkerCrashed")
      assert.strictEqual(result.workerId, error._tag === "WorkerCrashed" ? error.workerId : -1)
      // The replacement gets a new id: the crashed one is gone from the stats.
      yield* bothReady
      assert.notInclude((yield* pool.stats).workerIds, result.workerId)
    }))

  it.effect("the result names the worker of the last attempt: none when that attempt sent nothing", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      let calls = 0
      // The first attempt fails on a worker (FibTooBig), the second succeeds on the main thread.
      const effect = Effect.suspend(() => ++calls === 1 ? Effect.asVoid(pool.run(Fib, 40)) : Effect.void)
      const retry = { maximumAttempts: 2, initialInterval: 1 }
      const result = yield* execute(Task.make(effect, { kind: "cpu", retry }))
      assert.deepStrictEqual(result.exit, Exit.void)
      assert.strictEqual(result.attempts, 2)
      assert.isFalse("workerId" in result)

      // And the other way round: a first attempt on the main thread, a second on a worker.
      let again = 0
      const later = Effect.suspend((): Effect.Effect<number, string | WorkerPool.PoolError> =>
        ++again === 1 ? Effect.fail("not yet") : pool.run(Inc, 1)
      )
      const second = yield* execute(Task.make(later, { kind: "cpu", retry }))
      assert.deepStrictEqual(second.exit, Exit.succeed(2))
      assert.include((yield* pool.stats).workerIds, second.workerId)
    }))

  it.effect("calls outside a task (no cell in context) run as before", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* WorkerPool.run(Inc, 1), 2)
      assert.isUndefined(yield* Effect.sync(WorkerAssignment.current))
    }))
})

describe("in-process pools and the orchestrator", () => {
  it.live("the in-process test pool fills the cell; a call that never left the queue leaves it empty", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      const ran = yield* execute(Task.make(pool.run(Inc, 1), { kind: "cpu" }))
      assert.deepStrictEqual(ran.exit, Exit.succeed(2))
      assert.isNumber(ran.workerId)
      assert.deepStrictEqual((yield* pool.stats).workerIds, [ran.workerId!])

      // One call per worker and one worker: the second call waits in the queue until its timeout.
      const busy = yield* Effect.forkChild(pool.run(Sleep, 2_000))
      yield* eventually(Effect.map(pool.stats, (s) => s.busy === 1))
      const queued = yield* execute(Task.make(pool.run(Inc, 1), { kind: "cpu", timeout: "50 millis" }))
      assert.strictEqual(failureOf(queued.exit)._tag, "TaskTimeout")
      assert.isFalse("workerId" in queued)
      yield* Fiber.interrupt(busy)
    }).pipe(Effect.provide(WorkerPool.layerTest(Tasks, handlers, { concurrentTasksPerWorker: 1 }))))

  it.live("the orchestrator's results name the worker of cpu tasks, and none for io tasks", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const cpu = yield* orchestrator.runResult(orchestrator.workerTask(Inc, 1))
      const fn = yield* orchestrator.runResult(orchestrator.functionTask((n: number) => n + 1, [1]))
      const io = yield* orchestrator.runResult(Task.make(Effect.succeed(1), { name: "io" }))
      const stats = yield* orchestrator.stats
      assert.include(stats.pool.workerIds, cpu.workerId)
      assert.include(stats.pool.workerIds, fn.workerId)
      assert.isFalse("workerId" in io)
    }).pipe(Effect.provide(Orchestrator.layerTest(serve(Tasks, handlers)))))
})
