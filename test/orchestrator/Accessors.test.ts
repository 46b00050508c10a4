// The module-level accessors of Orchestrator: each runs its namesake on the orchestrator in context, with the
// same types as the service's own method (runAll keeps its tuple and record typing).
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Option, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import type { InvalidConfig, TaskResult } from "../../src/index.ts"
import { PoolShutDown, Task } from "../../src/index.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import type { OffloadError, RunError } from "../../src/layers/Orchestrator.ts"
import type { PoolError } from "../../src/layers/WorkerPool.ts"
import { serve } from "../../src/runtime/worker/Server.ts"

class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}
const Double = WorkerTask.make("double", { payload: Schema.Number, success: Schema.Number, error: TooBig })
const served = serve(WorkerTask.group(Double), {
  double: (n) => n > 100 ? Effect.fail(new TooBig({ n })) : Effect.succeed(n * 2)
})

// Each spec gets its own orchestrator and metric registry.
const Test = Orchestrator.layerTest(served).pipe(Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map())))

function square(n: number): number {
  return n * n
}

describe("Orchestrator accessors", () => {
  it.effect("run and runResult run a task on the orchestrator in context", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Orchestrator.run(Task.make(Effect.succeed(7), { name: "seven" })), 7)
      const failed = yield* Effect.exit(Orchestrator.run(Task.make(Effect.fail("nope" as const))))
      assert.deepStrictEqual(failed, Exit.fail("nope"))
      const result = yield* Orchestrator.runResult(Task.make(Effect.fail("nope" as const), { name: "failing" }))
      expectTypeOf(result).toEqualTypeOf<TaskResult.TaskResult<never, "nope" | RunError>>()
      assert.strictEqual(result.name, "failing")
      assert.deepStrictEqual(result.exit, Exit.fail("nope"))
    }).pipe(Effect.provide(Test)))

  it.effect("offload, offloadFunction and blocking run now, on the cpu pool and the blocking lane", () =>
    Effect.gen(function*() {
      const doubled = Orchestrator.offload(Double, 21, { priority: "high" })
      expectTypeOf(doubled).toEqualTypeOf<Effect.Effect<number, TooBig | OffloadError, Orchestrator.Orchestrator>>()
      assert.strictEqual(yield* doubled, 42)
      const tooBig = yield* Effect.exit(Orchestrator.offload(Double, 101))
      assert.deepStrictEqual(tooBig, Exit.fail(new TooBig({ n: 101 })))
      assert.strictEqual(yield* Orchestrator.offloadFunction(square, [9]), 81)
      assert.strictEqual(yield* Orchestrator.blocking((a: number, b: number) => a + b, [2, 3]), 5)
      const stats = yield* Orchestrator.stats
      assert.strictEqual(stats.lanes.blocking.admitted, 1)
      // Double(21) and square(9) completed; Double(101) failed with its typed error.
      assert.strictEqual(stats.pool.completed, 2)
      assert.strictEqual(stats.pool.failed, 1)
    }).pipe(Effect.provide(Test)))

  it.effect("runAll keeps its tuple typing, with the module-level task builders", () =>
    Effect.gen(function*() {
      const results = yield* Orchestrator.runAll([
        Task.make(Effect.succeed("io")),
        Orchestrator.workerTask(Double, 4),
        Orchestrator.functionTask(square, [5]),
        Orchestrator.blockingTask((s: string) => s.toUpperCase(), ["up"])
      ])
      expectTypeOf(results).toEqualTypeOf<
        [
          TaskResult.TaskResult<string, RunError>,
          TaskResult.TaskResult<number, TooBig | PoolError | RunError>,
          TaskResult.TaskResult<number, PoolError | RunError>,
          TaskResult.TaskResult<string, PoolError | RunError>
        ]
      >()
      assert.deepStrictEqual(results.map((r) => r.exit), [
        Exit.succeed("io"),
        Exit.succeed(8),
        Exit.succeed(25),
        Exit.succeed("UP")
      ])
      assert.deepStrictEqual(results.map((r) => r.kind), ["io", "cpu", "cpu", "blocking"])
      assert.deepStrictEqual(results.map((r) => r.name), ["task", "double", "square", "blocking"])
    }).pipe(Effect.provide(Test)))

  it.effect("runAll keeps its record typing, and its error type follows failFast", () =>
    Effect.gen(function*() {
      const tasks = { big: Orchestrator.workerTask(Double, 500), ok: Task.make(Effect.succeed(1)) }
      const all = Orchestrator.runAll(tasks)
      expectTypeOf(all).toEqualTypeOf<
        Effect.Effect<
          {
            big: TaskResult.TaskResult<number, TooBig | PoolError | RunError>
            ok: TaskResult.TaskResult<number, RunError>
          },
          InvalidConfig,
          Orchestrator.Orchestrator
        >
      >()
      const results = yield* all
      assert.deepStrictEqual(Object.keys(results), ["big", "ok"])
      assert.deepStrictEqual(results.big.exit, Exit.fail(new TooBig({ n: 500 })))
      const fast = Orchestrator.runAll(tasks, { failFast: true })
      expectTypeOf(fast).toEqualTypeOf<
        Effect.Effect<
          {
            big: TaskResult.TaskResult<number, TooBig | PoolError | RunError>
            ok: TaskResult.TaskResult<number, RunError>
          },
          InvalidConfig | TooBig | PoolError | RunError,
          Orchestrator.Orchestrator
        >
      >()
      assert.deepStrictEqual(yield* Effect.exit(fast), Exit.fail(new TooBig({ n: 500 })))
      const bad = yield* Effect.exit(Orchestrator.runAll(tasks, { concurrency: 0 }))
      assert.isTrue(Exit.isFailure(bad))
    }).pipe(Effect.provide(Test)))

  it.effect("batchOffload maps over the items in chunks, in order", () =>
    Effect.gen(function*() {
      const squares = yield* Orchestrator.batchOffload((n: number) => n * n, [1, 2, 3, 4, 5], { batchSize: 2 })
      assert.deepStrictEqual(squares, [1, 4, 9, 16, 25])
      // Three chunks of at most two items: three calls on the pool.
      assert.strictEqual((yield* Orchestrator.stats).pool.completed, 3)
    }).pipe(Effect.provide(Test)))

  it.effect("submit runs a module-level task in the background; shutdown stops new submissions", () =>
    Effect.gen(function*() {
      const handle = yield* Orchestrator.submit(Orchestrator.workerTask(Double, 8))
      assert.strictEqual(yield* handle.await, 16)
      const later = yield* Orchestrator.submit(Orchestrator.functionTask(square, [3]))
      assert.strictEqual(yield* later.await, 9)
      const poll = yield* later.poll
      assert.isTrue(Option.isSome(poll))
      assert.strictEqual((yield* Orchestrator.stats).background.completed, 2)
      yield* Orchestrator.shutdown({ mode: "drain", deadline: "1 second" })
      const refused = yield* Effect.exit(Orchestrator.submit(Task.make(Effect.succeed(1))))
      assert.isTrue(Exit.isFailure(refused))
      assert.instanceOf(
        Exit.isFailure(refused) ? Option.getOrUndefined(Exit.findErrorOption(refused)) : 0,
        PoolShutDown
      )
      const bad = yield* Effect.exit(Orchestrator.shutdown({ mode: "drain", deadline: "soon" as never }))
      assert.strictEqual(
        Exit.isFailure(bad) ? (Option.getOrUndefined(Exit.findErrorOption(bad)) as InvalidConfig).field : "",
        "shutdown.deadline"
      )
    }).pipe(Effect.provide(Test)))

  it.effect("prometheus renders the task metrics of the orchestrator in context", () =>
    Effect.gen(function*() {
      yield* Orchestrator.offload(Double, 1, { name: "counted" })
      const text = yield* Orchestrator.prometheus
      assert.match(text, /orchestrator_tasks_submitted_total\{[^}]*task="counted"[^}]*\} 1/)
    }).pipe(Effect.provide(Test)))
})
