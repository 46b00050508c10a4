import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import { Task } from "../../src/index.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import { serve } from "../../src/runtime/worker/Server.ts"
import { handlers } from "../pool/fixtures/handlers.ts"
import { Fib, FibTooBig, Tasks } from "../pool/fixtures/tasks.ts"

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2)
}

function blockFor(ms: number): number {
  // A truly blocking call: the thread sleeps without yielding to its event loop.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
  return ms
}

const failureTag = (exit: Exit.Exit<unknown, unknown>): string | undefined =>
  Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail"
    ? (exit.cause.reasons[0].error as { _tag: string })._tag
    : undefined

const valueOf = <A>(exit: Exit.Exit<A, unknown>): A | undefined => Exit.isSuccess(exit) ? exit.value : undefined

const entry = new URL("../pool/fixtures/worker.ts", import.meta.url)
const Live = Orchestrator.layer({ entry, pool: { minWorkers: 2, maxWorkers: 2 }, blocking: { threads: 2 } }).pipe(
  Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
)

layer(Live, { excludeTestServices: true, timeout: 60_000 })("Orchestrator with real threads", (it) => {
  it.effect("offloads typed tasks and self-contained functions to the cpu pool", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      assert.strictEqual(yield* orchestrator.offload(Fib, 20), 6765)
      assert.strictEqual(yield* orchestrator.offloadFunction(fib, [21]), 10946)
      const error = yield* Effect.flip(orchestrator.offload(Fib, 40))
      assert.instanceOf(error, FibTooBig)
    }))

  it.effect("routes by kind: cpu to the pool, blocking to the blocking threads, io on the main runtime", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const before = yield* orchestrator.stats
      const results = yield* orchestrator.runAll([
        orchestrator.functionTask(fib, [15]),
        orchestrator.blockingTask(blockFor, [5]),
        Task.make(Effect.sync(() => "main"), { name: "io-task" })
      ])
      const after = yield* orchestrator.stats
      assert.deepStrictEqual(results.map((r) => r.kind), ["cpu", "blocking", "io"])
      const [cpu, blocking, io] = results
      assert.deepStrictEqual([valueOf(cpu.exit), valueOf(blocking.exit), valueOf(io.exit)], [610, 5, "main"])
      assert.strictEqual(after.pool.completed - before.pool.completed, 1)
      assert.strictEqual(after.blockingPool.completed - before.blockingPool.completed, 1)
      assert.strictEqual(after.lanes.io.admitted - before.lanes.io.admitted, 1)
      assert.strictEqual(after.lanes.blocking.admitted - before.lanes.blocking.admitted, 1)
    }))

  it.effect("the event loop keeps turning while blocking calls run, and cpu tasks are not starved by them", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      let ticks = 0
      const timer = setInterval(() => ticks++, 5)
      const blocking = yield* Effect.forkChild(
        Effect.forEach([300, 300, 300, 300], (ms) => orchestrator.blocking(blockFor, [ms]), { concurrency: 4 })
      )
      // Both blocking threads are now busy for 600 ms; a cpu task must still get through on its own lane.
      yield* Effect.sleep("20 millis")
      const cpu = yield* orchestrator.offloadFunction(fib, [10])
      const cpuFinishedWhileBlocked = (yield* orchestrator.stats).blockingPool.busy > 0
      yield* Fiber.join(blocking)
      clearInterval(timer)
      assert.strictEqual(cpu, 55)
      assert.isTrue(cpuFinishedWhileBlocked)
      // 600 ms of blocking calls: a blocked main thread would have let almost no 5 ms timer fire.
      assert.isAtLeast(ticks, 20)
    }))

  it.effect("runAll returns a result for every task; one failure does not sink the rest", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const results = yield* orchestrator.runAll([
        orchestrator.workerTask(Fib, 10),
        orchestrator.workerTask(Fib, 99),
        orchestrator.workerTask(Fib, 12)
      ])
      assert.deepStrictEqual(results.map((r) => failureTag(r.exit)), [undefined, "FibTooBig", undefined])
      assert.deepStrictEqual(results.map((r) => r.attempts), [1, 1, 1])
      assert.isTrue(results.every((r) => r.name === "fib" && r.finishedAt >= r.startedAt))
    }))

  it.effect("runAll with failFast fails with the first failure", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const error = yield* Effect.flip(orchestrator.runAll([
        orchestrator.workerTask(Fib, 10),
        orchestrator.workerTask(Fib, 99)
      ], { failFast: true }))
      assert.instanceOf(error, FibTooBig)
    }))

  it.effect("runAll rejects a concurrency that is not a whole number of at least 1 with InvalidConfig", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      for (const concurrency of [0, -3, Number.NaN, 1.5]) {
        const error = yield* Effect.flip(orchestrator.runAll([orchestrator.workerTask(Fib, 10)], { concurrency }))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual((error as { field: string }).field, "runAll.concurrency")
        assert.strictEqual((error as { value: string }).value, String(concurrency))
      }
      const [one] = yield* orchestrator.runAll([orchestrator.workerTask(Fib, 10)], { concurrency: 1 })
      assert.isTrue(Exit.isSuccess(one!.exit))
    }))

  it.effect("batchOffload maps a function over chunks on the workers, in order, with progress", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const progress: Array<number> = []
      const items = Array.from({ length: 10_000 }, (_, i) => i)
      const out = yield* orchestrator.batchOffload((x: number) => x * 3 + 1, items, {
        batchSize: 1_000,
        onProgress: (p) => Effect.sync(() => progress.push(p.done))
      })
      assert.strictEqual(out.length, 10_000)
      assert.deepStrictEqual(out.slice(0, 3), [1, 4, 7])
      assert.strictEqual(out[9_999], 29_998)
      assert.strictEqual(progress.length, 10)
      assert.strictEqual(progress.at(-1), 10_000)
    }))

  it.effect("batchOffload rejects a function with closures with a typed error", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const factor = 3
      const error = yield* Effect.flip(orchestrator.batchOffload((x: number) => x * factor, [1, 2, 3]))
      assert.strictEqual(error._tag, "PayloadInvalid")
    }))

  it.effect("background pool: submit, await, cancel", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const done = yield* orchestrator.submit(orchestrator.functionTask(fib, [20]))
      const stuck = yield* orchestrator.submit(orchestrator.blockingTask(blockFor, [30_000]))
      assert.strictEqual(yield* done.await, 6765)
      yield* stuck.cancel
      const error = yield* Effect.flip(stuck.await)
      assert.strictEqual(error._tag, "TaskCancelled")
    }))

  it.effect("metrics: task counters by task, kind and priority, and the Prometheus text", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offloadFunction(fib, [5], { name: "metered", priority: "high" })
      yield* Effect.exit(orchestrator.offload(Fib, 50, { name: "metered-fail" }))
      const text = yield* orchestrator.prometheus
      assert.match(text, /orchestrator_tasks_succeeded_total\{[^}]*task="metered"[^}]*\} 1/)
      assert.match(text, /orchestrator_tasks_failed_total\{[^}]*task="metered-fail"[^}]*\} 1/)
      assert.match(text, /orchestrator_task_run_seconds_bucket\{[^}]*kind="cpu"/)
      assert.include(text, "orchestrator_pool_")
      for (const lane of ["cpu", "io", "blocking"]) {
        assert.match(text, new RegExp(`orchestrator_scheduler_\\w+\\{[^}]*lane="${lane}"`))
      }
    }))
})

describe("Orchestrator configuration", () => {
  it.live("a bad field fails the layer with InvalidConfig naming it", () =>
    Effect.gen(function*() {
      for (
        const [config, field] of [
          [{ pool: { maxWorkers: -1 } }, "pool.maxWorkers"],
          [{ pool: { minWorkers: 3, maxWorkers: 2 } }, "pool.maxWorkers"],
          [{ scheduler: { permits: 0 } }, "scheduler.permits"],
          [{ blocking: { threads: 0 } }, "blocking.threads"],
          [{ cpuPermits: 0 }, "cpuPermits"],
          [{ retry: { maximumAttempts: 0 } }, "retry.maximumAttempts"],
          [{ durationBucketsSeconds: [1, 0.5] }, "durationBucketsSeconds.1"],
          [{ durationBucketsSeconds: [] }, "durationBucketsSeconds"],
          [{ pool: { durationBucketsSeconds: [0, 1] } }, "pool.durationBucketsSeconds.0"]
        ] as const
      ) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(Orchestrator.layer(config))))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error._tag === "InvalidConfig" && error.field, field)
      }
    }))
})

describe("Orchestrator.layerTest (no threads)", () => {
  const Test = Orchestrator.layerTest(serve(Tasks, handlers)).pipe(
    Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
  )

  it.effect("runs typed tasks and functions in-process with the same typed errors", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      assert.strictEqual(yield* orchestrator.offload(Fib, 15), 610)
      assert.instanceOf(yield* Effect.flip(orchestrator.offload(Fib, 36)), FibTooBig)
      assert.strictEqual(yield* orchestrator.offloadFunction(fib, [10]), 55)
      assert.strictEqual(yield* orchestrator.blocking((a: number, b: number) => a + b, [2, 3]), 5)
    }).pipe(Effect.provide(Test)))

  it.effect("one permit per lane: tasks are admitted by priority", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const order: Array<string> = []
      const task = (name: string, priority: "low" | "normal" | "high" | "critical") =>
        Task.make(Effect.sync(() => order.push(name)), { name, priority })
      const blocker = yield* Effect.forkChild(orchestrator.run(Task.make(Effect.sleep("1 second"))))
      yield* Effect.yieldNow
      const all = yield* Effect.forkChild(
        orchestrator.runAll([
          task("low", "low"),
          task("high", "high"),
          task("critical", "critical"),
          task("normal", "normal")
        ])
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(blocker)
      yield* Fiber.join(all)
      assert.deepStrictEqual(order, ["critical", "high", "normal", "low"])
    }).pipe(Effect.provide(Test)))

  it.effect("the configured default retry policy applies, and attempts are reported", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      let calls = 0
      const flaky = Effect.suspend(() => ++calls < 3 ? Effect.fail("transient" as const) : Effect.succeed(calls))
      const fiber = yield* Effect.forkChild(orchestrator.runResult(Task.make(flaky)))
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.exit, Exit.succeed(3))
      assert.strictEqual(result.attempts, 3)
    }).pipe(Effect.provide(Orchestrator.layerTest(undefined, { retry: { maximumAttempts: 3, jitter: 0 } }))))

  it.effect("each task runs in a span named after it, with its kind and priority", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const span = yield* orchestrator.run(Task.make(Effect.currentSpan, { name: "traced", priority: "high" }))
      assert.strictEqual(span.name, "task traced")
      assert.strictEqual(span.attributes.get("task.kind"), "io")
      assert.strictEqual(span.attributes.get("task.priority"), "high")
    }).pipe(Effect.provide(Test)))

  it.effect("durationBucketsSeconds chooses the buckets of the task, pool and lane histograms", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offloadFunction(fib, [5], { name: "bucketed" })
      const text = yield* orchestrator.prometheus
      const bounds = (
        metric: string
      ) => [...new Set([...text.matchAll(new RegExp(`^${metric}_bucket\\{[^}]*le="([^"]+)"`, "gm"))].map((m) => m[1]))]
      assert.deepStrictEqual(bounds("orchestrator_task_run_seconds"), ["0.5", "2", "+Inf"])
      assert.deepStrictEqual(bounds("orchestrator_task_queue_wait_seconds"), ["0.5", "2", "+Inf"])
      assert.deepStrictEqual(bounds("orchestrator_pool_run_time_seconds"), ["0.5", "2", "+Inf"])
      // The lanes name their own, which win over the orchestrator's.
      assert.deepStrictEqual(bounds("orchestrator_scheduler_wait_seconds"), ["1", "+Inf"])
      assert.match(text, /^orchestrator_task_run_seconds_count\{[^}]*task="bucketed"[^}]*\} 1$/m)
    }).pipe(
      Effect.provide(
        Orchestrator.layerTest(undefined, {
          durationBucketsSeconds: [0.5, 2],
          scheduler: { durationBucketsSeconds: [1] }
        })
      ),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.effect("timeouts fail with TaskTimeout", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const fiber = yield* Effect.forkChild(
        Effect.flip(orchestrator.run(Task.make(Effect.never, { timeout: "1 second" })))
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TaskTimeout")
    }).pipe(Effect.provide(Test)))
})
