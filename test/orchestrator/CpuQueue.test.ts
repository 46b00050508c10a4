import { assert, describe, expectTypeOf, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import type { InvalidConfig, TaskResult } from "../../src/index.ts"
import { Task } from "../../src/index.ts"
import type { OffloadError, RunError } from "../../src/layers/Orchestrator.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import type { PoolError } from "../../src/layers/WorkerPool.ts"
import { serve } from "../../src/runtime/worker/Server.ts"

// A task that records the order in which the (in-process) worker runs its calls.
const Mark = WorkerTask.make("mark", { payload: Schema.String, success: Schema.String })
const Marks = WorkerTask.group(Mark)
const order: Array<string> = []
const served = serve(Marks, { mark: (label) => Effect.sync(() => (order.push(label), label)) })

// A task that takes long enough to be interrupted while it runs in the (in-process) worker.
const Slow = WorkerTask.make("slow", { payload: Schema.String, success: Schema.String })
const slowServed = serve(WorkerTask.group(Mark, Slow), {
  mark: (label) => Effect.sync(() => (order.push(label), label)),
  slow: (label) => Effect.as(Effect.sleep("10 seconds"), label)
})

const failureTagOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  return reason?._tag === "Fail" ? (reason.error as { readonly _tag: string })._tag : undefined
}

const isolated = <A, E>(layer: Layer.Layer<A, E>) =>
  layer.pipe(Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map())))

const marks = (
  orchestrator: Orchestrator.Orchestrator["Service"],
  labels: ReadonlyArray<string>,
  priority: Task.TaskOptions["priority"]
) => labels.map((label) => orchestrator.workerTask(Mark, label, { name: label, ...(priority ? { priority } : {}) }))

describe("cpu work waits in one queue: the pool's", () => {
  it.effect("a critical call overtakes the low ones still queued, while the worker's pipeline stays full", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      // The pool pipelines a task once it knows it is light: after its first answer.
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      const lows = Array.from({ length: 20 }, (_, i) => `low-${i}`)
      // Two batches, the critical one submitted once the lows wait: within one batch, `runAll` itself lets tasks
      // in by priority (see BatchExecution.test.ts), and this is about the pool's queue.
      const [results, [last]] = yield* Effect.all([
        orchestrator.runAll(marks(orchestrator, lows, "low"), { concurrency: "unbounded" }),
        orchestrator.runAll(marks(orchestrator, ["critical"], "critical"))
      ], { concurrency: "unbounded" })
      assert.isTrue([...results, last!].every((r) => Exit.isSuccess(r.exit)))
      const critical = order.indexOf("critical")
      // Four calls were in the worker's pipeline (concurrentTasksPerWorker) before the critical one arrived:
      // more than the old cpu lane's two permits per worker, and it went right after them, not after all 20.
      assert.strictEqual(critical, 4, order.join(","))
      assert.deepStrictEqual(order.filter((label) => label !== "critical"), lows, "FIFO within a level")
      const stats = yield* orchestrator.stats
      assert.strictEqual(stats.lanes.cpu.queuedTotal, 0)
      assert.isAtLeast(stats.lanes.cpu.admitted, 21)
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served, { pool: { concurrentTasksPerWorker: 4 } })))))

  it.effect("fairness keys take turns within a level", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      const tasks = [
        ...["a1", "a2", "a3", "a4", "a5", "a6"].map((label) => orchestrator.workerTask(Mark, label, { key: "a" })),
        ...["b1", "b2"].map((label) => orchestrator.workerTask(Mark, label, { key: "b" }))
      ]
      yield* orchestrator.runAll(tasks, { concurrency: "unbounded" })
      // a1 goes at once (pipeline of 1); the rest wait and the keys alternate: b is not behind all of a.
      assert.deepStrictEqual(order, ["a1", "a2", "b1", "a3", "b2", "a4", "a5", "a6"])
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served, { pool: { concurrentTasksPerWorker: 1 } })))))

  it.effect("the capacity bounds the calls waiting for a worker: overflow fail rejects with QueueFull", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      const labels = Array.from({ length: 6 }, (_, i) => `m${i}`)
      const results = yield* orchestrator.runAll(marks(orchestrator, labels, undefined), { concurrency: "unbounded" })
      // One in the worker, two queued, the other three rejected at once.
      const rejected = results.filter((r) =>
        Exit.isFailure(r.exit) && r.exit.cause.reasons.some((x) => x._tag === "Fail" && x.error._tag === "QueueFull")
      )
      assert.strictEqual(rejected.length, 3)
      assert.strictEqual((yield* orchestrator.stats).lanes.cpu.rejected, 3)
    }).pipe(
      Effect.provide(isolated(Orchestrator.layerTest(served, {
        pool: { concurrentTasksPerWorker: 1 },
        scheduler: { capacity: 2, overflow: "fail" }
      })))
    ))

  it.effect("the capacity with overflow suspend holds calls until there is room; all of them run", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      const labels = Array.from({ length: 6 }, (_, i) => `m${i}`)
      const results = yield* orchestrator.runAll(marks(orchestrator, labels, undefined), { concurrency: "unbounded" })
      assert.isTrue(results.every((r) => Exit.isSuccess(r.exit)))
      assert.deepStrictEqual(order, labels)
    }).pipe(
      Effect.provide(isolated(Orchestrator.layerTest(served, {
        pool: { concurrentTasksPerWorker: 1 },
        scheduler: { capacity: 2 }
      })))
    ))

  it.effect("with cpuPermits, a lane caps cpu tasks in flight and orders them by priority", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      yield* Effect.all([
        orchestrator.runAll(marks(orchestrator, ["l1", "l2", "l3"], "low"), { concurrency: "unbounded" }),
        orchestrator.runAll(marks(orchestrator, ["c1"], "critical"))
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(order, ["l1", "c1", "l2", "l3"])
      const stats = yield* orchestrator.stats
      assert.strictEqual(stats.lanes.cpu.permits, 1)
      assert.strictEqual(stats.lanes.cpu.admitted, 5)
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served, { cpuPermits: 1 })))))
})

// `offload` without a timeout, a retry policy or a cpu lane, under Effect's default tracer, goes to the pool
// without the general task path (`TaskExecution.directCall`): the same queue, priorities and metrics.
describe("offload's direct path", () => {
  const counter = (text: string, metric: string, task: string): number => {
    const line = text.split("\n").find((l) => l.startsWith(`${metric}{`) && l.includes(`task="${task}"`))
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
  }

  it.effect("a critical offload overtakes the low ones still queued, while the worker's pipeline stays full", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      const lows = Array.from({ length: 20 }, (_, i) => `low-${i}`)
      yield* Effect.all(
        [
          ...lows.map((label) => orchestrator.offload(Mark, label, { priority: "low" })),
          orchestrator.offload(Mark, "critical", { priority: "critical" })
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(order.indexOf("critical"), 4, order.join(","))
      assert.deepStrictEqual(order.filter((label) => label !== "critical"), lows, "FIFO within a level")
      const stats = yield* orchestrator.stats
      assert.isAtLeast(stats.lanes.cpu.admitted, 22, "each direct offload counts as handed to the pool")
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served, { pool: { concurrentTasksPerWorker: 4 } })))))

  it.effect("a fairness key passes to the pool's queue", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      yield* orchestrator.offload(Mark, "warm-up")
      order.length = 0
      yield* Effect.all(
        [
          ...["a1", "a2", "a3", "a4"].map((label) => orchestrator.offload(Mark, label, { key: "a" })),
          ...["b1", "b2"].map((label) => orchestrator.offload(Mark, label, { key: "b" }))
        ],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(order, ["a1", "a2", "b1", "a3", "b2", "a4"])
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served, { pool: { concurrentTasksPerWorker: 1 } })))))

  it.effect("counts successes, failures and interrupted callers (as cancelled) under the task's labels", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      assert.strictEqual(yield* orchestrator.offload(Mark, "ok", { name: "direct-ok", priority: "high" }), "ok")
      const failed = yield* Effect.exit(orchestrator.offload(Mark, 42 as never, { name: "direct-bad" }))
      assert.strictEqual(failureTagOf(failed), "PayloadInvalid")
      const running = yield* Effect.forkChild(orchestrator.offload(Slow, "slow", { name: "direct-cancelled" }))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(running)
      // the general path (a timeout) counts an interrupted caller the same way
      const general = yield* Effect.forkChild(
        orchestrator.offload(Slow, "slow", { name: "general-cancelled", timeout: "1 hour" })
      )
      yield* Effect.yieldNow
      yield* Fiber.interrupt(general)
      const text = yield* orchestrator.prometheus
      assert.match(text, /orchestrator_tasks_succeeded_total\{task="direct-ok",kind="cpu",priority="high"\} 1/)
      assert.strictEqual(counter(text, "orchestrator_tasks_submitted_total", "direct-ok"), 1)
      assert.strictEqual(counter(text, "orchestrator_tasks_failed_total", "direct-bad"), 1)
      assert.strictEqual(counter(text, "orchestrator_tasks_succeeded_total", "direct-bad"), 0)
      assert.strictEqual(counter(text, "orchestrator_tasks_cancelled_total", "direct-cancelled"), 1)
      assert.strictEqual(counter(text, "orchestrator_tasks_failed_total", "direct-cancelled"), 0)
      assert.strictEqual(counter(text, "orchestrator_tasks_cancelled_total", "general-cancelled"), 1)
      assert.strictEqual(counter(text, "orchestrator_task_run_seconds_count", "direct-ok"), 1)
      assert.strictEqual(counter(text, "orchestrator_task_queue_wait_seconds_count", "direct-bad"), 1)
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(slowServed)))))

  it.effect("an unknown priority from an untyped caller fails with InvalidConfig naming task.priority", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      order.length = 0
      const error = yield* Effect.flip(orchestrator.offload(Mark, "x", { priority: "urgent" as never }))
      assert.strictEqual(error._tag, "InvalidConfig")
      assert.deepInclude(error, { field: "task.priority", value: "urgent" })
      const viaTask = yield* orchestrator.runResult(orchestrator.workerTask(Mark, "y", { priority: "urgent" as never }))
      assert.strictEqual(failureTagOf(viaTask.exit), "InvalidConfig")
      assert.deepStrictEqual(order, [], "nothing ran")
      const text = yield* orchestrator.prometheus
      assert.notInclude(text, "urgent", "no metric series is labelled with it")
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served)))))
})

describe("a task kind that is none", () => {
  it.effect("fails the task with InvalidConfig naming task.kind, through run and runAll, and runs nothing", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      let ran = 0
      const odd = Task.make(Effect.sync(() => ++ran), { name: "odd", kind: "gpu" as never })
      const alone = yield* Effect.flip(orchestrator.run(odd))
      assert.deepInclude(alone, { _tag: "InvalidConfig", field: "task.kind", value: "gpu" })
      const [bad, good] = yield* orchestrator.runAll([odd, Task.make(Effect.succeed("fine"))])
      assert.strictEqual(failureTagOf(bad!.exit), "InvalidConfig")
      assert.deepStrictEqual(good!.exit, Exit.succeed("fine"))
      assert.strictEqual(ran, 0)
      const text = yield* orchestrator.prometheus
      assert.notInclude(text, "gpu", "no metric series is labelled with it")
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served)))))
})

describe("offloadFunction's direct path", () => {
  it.effect("counts its calls under the task's labels, fails a closure with PayloadInvalid, a bad level typed", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const double = (x: number) => x * 2
      assert.strictEqual(yield* orchestrator.offloadFunction(double, [21], { name: "fn-ok", priority: "low" }), 42)
      const captured = 3
      const closure = (x: number) => x * captured
      const failed = yield* Effect.flip(orchestrator.offloadFunction(closure, [1], { name: "fn-bad" }))
      assert.strictEqual(failed._tag, "PayloadInvalid")
      const level = yield* Effect.flip(orchestrator.offloadFunction(double, [1], { priority: "urgent" as never }))
      assert.deepInclude(level, { _tag: "InvalidConfig", field: "task.priority", value: "urgent" })
      const text = yield* orchestrator.prometheus
      assert.match(text, /orchestrator_tasks_succeeded_total\{task="fn-ok",kind="cpu",priority="low"\} 1/)
      assert.match(text, /orchestrator_tasks_failed_total\{task="fn-bad",kind="cpu",priority="normal"\} 1/)
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(served)))))
})

describe("cpu task timings", () => {
  const Busy = WorkerTask.make("busy", { payload: Schema.Number, success: Schema.Number })
  const busy = serve(WorkerTask.group(Busy), {
    busy: (ms) =>
      Effect.sync(() => {
        const end = performance.now() + ms
        while (performance.now() < end) {
          // the in-process worker holds this thread, as a real one holds its own
        }
        return ms
      })
  })

  it.live("a cpu task's queue wait includes its wait in the pool's queue", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const [first, second] = yield* orchestrator.runAll([
        orchestrator.workerTask(Busy, 40),
        orchestrator.workerTask(Busy, 1)
      ], { concurrency: "unbounded" })
      // the second waited in the pool's queue while the first ran: that is queue wait, not run time
      assert.isAtLeast(second.queueWaitMillis, 30)
      assert.isBelow(second.queueWaitMillis, second.finishedAt - second.enqueuedAt + 1)
      assert.isAtLeast(first.runMillis, 30)
    }).pipe(Effect.provide(isolated(Orchestrator.layerTest(busy, { pool: { concurrentTasksPerWorker: 1 } })))))
})

describe("runAll", () => {
  const Test = isolated(Orchestrator.layerTest(served))

  it.effect("a tuple of tasks of different types gives a tuple of results, each typed by its task", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      class Missing extends Schema.TaggedError<Missing>()("Missing", {}) {}
      const results = yield* orchestrator.runAll([
        Task.make(Effect.succeed(1)),
        Task.make(Effect.succeed("two")),
        Task.make(Effect.fail(new Missing())),
        orchestrator.workerTask(Mark, "three")
      ])
      expectTypeOf(results).toEqualTypeOf<
        [
          TaskResult.TaskResult<number, RunError>,
          TaskResult.TaskResult<string, RunError>,
          TaskResult.TaskResult<never, Missing | RunError>,
          TaskResult.TaskResult<string, PoolError | RunError>
        ]
      >()
      const [one, two, missing, three] = results
      assert.deepStrictEqual(one.exit, Exit.succeed(1))
      assert.deepStrictEqual(two.exit, Exit.succeed("two"))
      assert.isTrue(Exit.isFailure(missing.exit))
      assert.deepStrictEqual(three.exit, Exit.succeed("three"))
      assert.strictEqual(three.kind, "cpu")
    }).pipe(Effect.provide(Test)))

  it.effect("a record of tasks gives a record of results with the same keys", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const results = yield* orchestrator.runAll({
        count: Task.make(Effect.succeed(42)),
        label: orchestrator.workerTask(Mark, "label")
      })
      expectTypeOf(results).toEqualTypeOf<{
        count: TaskResult.TaskResult<number, RunError>
        label: TaskResult.TaskResult<string, PoolError | RunError>
      }>()
      assert.deepStrictEqual(Object.keys(results), ["count", "label"])
      assert.deepStrictEqual(results.count.exit, Exit.succeed(42))
      assert.deepStrictEqual(results.label.exit, Exit.succeed("label"))
    }).pipe(Effect.provide(Test)))

  it.effect("without failFast it cannot fail with a task's error; with failFast it can", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const tasks = [Task.make(Effect.fail("boom" as const)), Task.make(Effect.succeed(1))] as const
      const all = orchestrator.runAll(tasks)
      expectTypeOf(all).toEqualTypeOf<
        Effect.Effect<
          [TaskResult.TaskResult<never, "boom" | RunError>, TaskResult.TaskResult<number, RunError>],
          InvalidConfig
        >
      >()
      expectTypeOf(orchestrator.runAll(tasks, { failFast: false })).toEqualTypeOf<typeof all>()
      const fast = orchestrator.runAll(tasks, { failFast: true })
      expectTypeOf(fast).toEqualTypeOf<
        Effect.Effect<
          [TaskResult.TaskResult<never, "boom" | RunError>, TaskResult.TaskResult<number, RunError>],
          InvalidConfig | "boom" | RunError
        >
      >()
      const [failed, ok] = yield* all
      assert.isTrue(Exit.isFailure(failed.exit))
      assert.deepStrictEqual(ok.exit, Exit.succeed(1))
      assert.strictEqual(yield* Effect.flip(fast), "boom")
    }).pipe(Effect.provide(Test)))

  it.effect("an array of one task type gives an array of its results; an iterable works too", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const tasks = [1, 2, 3].map((n) => Task.make(Effect.succeed(n * 2)))
      const results = yield* orchestrator.runAll(tasks)
      expectTypeOf(results).toEqualTypeOf<Array<TaskResult.TaskResult<number, RunError>>>()
      assert.deepStrictEqual(results.map((r) => r.exit), [Exit.succeed(2), Exit.succeed(4), Exit.succeed(6)])
      const fromSet = yield* orchestrator.runAll(new Set(tasks))
      assert.strictEqual(fromSet.length, 3)
    }).pipe(Effect.provide(Test)))

  it.effect("a bad concurrency fails with InvalidConfig naming runAll.concurrency, and runs nothing", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      let ran = 0
      const task = Task.make(Effect.sync(() => ran++))
      for (const concurrency of [0, -3, Number.NaN, 1.5]) {
        const error = yield* Effect.flip(orchestrator.runAll([task], { concurrency }))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, "runAll.concurrency")
        assert.strictEqual(error.value, String(concurrency))
      }
      assert.strictEqual(ran, 0)
    }).pipe(Effect.provide(Test)))

  it.effect("the error type of an offload names the pool's errors", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      expectTypeOf(orchestrator.offload(Mark, "x")).toEqualTypeOf<Effect.Effect<string, OffloadError>>()
      assert.strictEqual(yield* orchestrator.offload(Mark, "x"), "x")
    }).pipe(Effect.provide(Test)))
})

const entry = new URL("../pool/fixtures/worker.ts", import.meta.url)
const Live = isolated(Orchestrator.layer({ entry, pool: { minWorkers: 2, maxWorkers: 2 } }))

layer(Live, { excludeTestServices: true, timeout: 60_000 })("cpu work on real threads", (it) => {
  it.effect("tiny calls fill every worker's pipeline: more in flight than two per worker", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const inc = (x: number) => x + 1
      // The pool learns from answers that the call is light (a moving average of the workers' own timings,
      // which one descheduled thread on a loaded machine can inflate): a few hundred calls settle it.
      yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (x) => orchestrator.offloadFunction(inc, [x]), {
        concurrency: 64
      })
      // Each call reads the pool's calls in flight as it resumes with its answer: the pool refills its workers
      // before it resumes the callers, so the calls pipelined behind this one are counted. (A sampler fiber of
      // its own gets too few turns on a busy machine to see them.) The pool pipelines a call only while its
      // learned cost is small, and that estimate comes from the workers' own timings, which a descheduled
      // thread inflates: so up to three rounds, of which one must show the pipelines filled.
      let peak = 0
      for (let round = 0; round < 3 && peak <= 4; round++) {
        const results = yield* Effect.forEach(
          Array.from({ length: 2_000 }, (_, i) => i),
          (x) =>
            Effect.flatMap(orchestrator.offloadFunction(inc, [x]), (y) =>
              Effect.map(orchestrator.stats, (s) => {
                peak = Math.max(peak, s.pool.inFlight)
                return y
              })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.at(-1), 2_000)
      }
      assert.isAbove(peak, 4, `peak in flight ${peak}`)
    }))
})
