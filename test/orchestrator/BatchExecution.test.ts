// `runAll`'s runner: tasks wait in their lane as fiberless admissions and start as fibers of their own. These
// specs pin what `Effect.forEach` over `execute` gave for free: one admission order with single submissions,
// the window, failFast and interruption (nothing left queued or running), rejections and shutdown as results,
// the runner's context and span, and the fallback under another tracer.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Metric, Option, Schema, Scope, Tracer } from "effect"
import { TestClock } from "effect/testing"
import type { TaskResult } from "../../src/domain/TaskResult.ts"
import { QueueFull, Task } from "../../src/index.ts"
import * as Scheduler from "../../src/layers/Scheduler.ts"
import { executeAll } from "../../src/runtime/orchestrator/BatchExecution.ts"
import type { ExecuteOptions } from "../../src/runtime/orchestrator/TaskExecution.ts"
import * as TaskMetrics from "../../src/runtime/orchestrator/TaskMetrics.ts"
import { laneOf } from "../../src/runtime/scheduler/SchedulerCore.ts"

class Boom extends Schema.TaggedError<Boom>()("Boom", { n: Schema.Number }) {}

type AnyTask = Task.Task<unknown, unknown, unknown>

/** Execution options admitting through `scheduler`'s fiberless lane, as the orchestrator's io tasks are. */
const laneOptions = (scheduler: Scheduler.SchedulerService, extra: Partial<ExecuteOptions> = {}): ExecuteOptions => {
  const lane = laneOf(scheduler)
  assert.isDefined(lane, "a scheduler built by Scheduler.make has a fiberless lane")
  return { admit: scheduler.submit, lane, span: true, ...extra }
}

const run = (
  tasks: ReadonlyArray<AnyTask>,
  options: ExecuteOptions,
  batch: { concurrency?: number; failFast?: boolean } = {}
) =>
  // the tasks here need nothing from their context
  executeAll(tasks, () => options, {
    concurrency: batch.concurrency ?? 1_024,
    failFast: batch.failFast ?? false
  }) as Effect.Effect<Array<TaskResult<unknown, unknown>>, unknown>

const valueOf = (exit: Exit.Exit<unknown, unknown>): unknown => Exit.isSuccess(exit) ? exit.value : undefined

describe("BatchExecution.executeAll", () => {
  it.effect("a batch's queued tasks and single submissions are admitted in one priority order", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const note = (name: string) => Effect.sync(() => order.push(name))
      const blocker = yield* Effect.forkChild(scheduler.submit(Deferred.await(gate)), { startImmediately: true })
      const batch = yield* Effect.forkChild(
        run([
          Task.make(note("low"), { priority: "low" }),
          Task.make(note("normal"), { priority: "normal" }),
          Task.make(note("critical"), { priority: "critical" })
        ], laneOptions(scheduler)),
        { startImmediately: true }
      )
      const single = yield* Effect.forkChild(scheduler.submit(note("high (alone)"), { priority: "high" }), {
        startImmediately: true
      })
      assert.strictEqual((yield* scheduler.stats).queuedTotal, 4, "the batch waits in the lane's queue")
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(batch)
      yield* Fiber.join(single)
      yield* Fiber.join(blocker)
      assert.deepStrictEqual(order, ["critical", "high (alone)", "normal", "low"])
      assert.deepStrictEqual(results.map((r) => r.priority), ["low", "normal", "critical"], "results in input order")
      assert.isTrue(results.every((r) => Exit.isSuccess(r.exit) && r.attempts === 1))
    }))

  it.effect("tasks enter the window by priority, in input order within a level, as from one queue", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const order: Array<string> = []
      const note = (label: string, priority: Task.TaskOptions["priority"]) =>
        Task.make(Effect.sync(() => order.push(label)), { priority: priority! })
      const results = yield* run(
        [
          note("n1", "normal"),
          note("l1", "low"),
          note("n2", "normal"),
          note("h1", "high"),
          note("c1", "critical"),
          note("l2", "low"),
          note("c2", "critical")
        ],
        laneOptions(scheduler),
        { concurrency: 2 }
      )
      // a window of 2 that took tasks in input order would start n1 and l1 first
      assert.deepStrictEqual(order, ["c1", "c2", "h1", "n1", "n2", "l1", "l2"])
      assert.deepStrictEqual(results.map((r) => r.priority), [
        "normal",
        "low",
        "normal",
        "high",
        "critical",
        "low",
        "critical"
      ])
    }))

  it.effect("no more than `concurrency` tasks are in flight, and each result is its own task's", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 10 })
      let now = 0
      let peak = 0
      const tasks = Array.from({ length: 12 }, (_, i) =>
        Task.make(
          Effect.gen(function*() {
            peak = Math.max(peak, ++now)
            yield* Effect.yieldNow
            yield* Effect.yieldNow
            now--
            return i * 10
          })
        ))
      const results = yield* run(tasks, laneOptions(scheduler), { concurrency: 3 })
      assert.strictEqual(peak, 3)
      assert.deepStrictEqual(results.map((r) => valueOf(r.exit)), tasks.map((_, i) => i * 10))
    }))

  it.effect("at most 64 of a batch's tasks wait in the lane's queue; free permits are all filled", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const blocked = Array.from({ length: 300 }, () => Task.make(Deferred.await(gate)))
      const narrow = yield* Scheduler.make({ permits: 1 })
      const wide = yield* Scheduler.make({ permits: 100 })
      const batches = yield* Effect.forkChild(
        Effect.all([run(blocked, laneOptions(narrow)), run(blocked, laneOptions(wide))], { concurrency: 2 }),
        { startImmediately: true }
      )
      const [one, many] = [yield* narrow.stats, yield* wide.stats]
      assert.deepStrictEqual([one.running, one.queuedTotal], [1, 64])
      assert.deepStrictEqual([many.running, many.queuedTotal], [100, 64])
      yield* Deferred.succeed(gate, undefined)
      const [a, b] = yield* Fiber.join(batches)
      assert.isTrue([...a, ...b].every((result) => Exit.isSuccess(result.exit)), "every task ran")
    }).pipe(Effect.scoped))

  it.effect("tasks admitted without a batch task ending (a resize) make room for the next in the lane", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(scheduler.submit(Deferred.await(gate)), { startImmediately: true })
      const batch = yield* Effect.forkChild(
        run(Array.from({ length: 100 }, () => Task.make(Deferred.await(gate))), laneOptions(scheduler)),
        { startImmediately: true }
      )
      assert.strictEqual((yield* scheduler.stats).queuedTotal, 64)
      yield* scheduler.resize(80)
      const stats = yield* scheduler.stats
      // the holder and 79 of the batch run; the other 21 wait in the lane
      assert.deepStrictEqual([stats.running, stats.queuedTotal], [80, 21])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      assert.lengthOf(yield* Fiber.join(batch), 100)
    }).pipe(Effect.scoped))

  it.effect("with failFast the first failure withdraws the queued tasks and interrupts the running ones first", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 2 })
      let interrupted = false
      let queuedStarted = false
      const failure = yield* Effect.flip(run(
        [
          Task.make(Effect.andThen(Effect.yieldNow, Effect.fail(new Boom({ n: 1 })))),
          Task.make(Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted = true))),
          Task.make(Effect.sync(() => queuedStarted = true)),
          Task.make(Effect.sync(() => queuedStarted = true))
        ],
        laneOptions(scheduler),
        { failFast: true }
      ))
      assert.instanceOf(failure, Boom)
      assert.isTrue(interrupted, "the running task was interrupted before the batch failed")
      assert.isFalse(queuedStarted)
      const stats = yield* scheduler.stats
      assert.strictEqual(stats.running, 0)
      assert.strictEqual(stats.queuedTotal, 0)
    }))

  it.effect("interrupting the runner interrupts running tasks, withdraws queued ones, and counts all cancelled", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const registry = new Map()
      const metrics = yield* Effect.map(
        Effect.provideService(Effect.context<never>(), Metric.MetricRegistry, registry),
        (context) => TaskMetrics.recorderFor(context)
      )
      const started = yield* Deferred.make<void>()
      let finalized = false
      const fiber = yield* Effect.forkChild(
        run([
          Task.make(
            Effect.andThen(
              Deferred.succeed(started, undefined),
              Effect.onInterrupt(Effect.never, () => Effect.sync(() => finalized = true))
            ),
            { name: "stuck" }
          ),
          Task.make(Effect.void, { name: "stuck" }),
          Task.make(Effect.void, { name: "stuck" })
        ], laneOptions(scheduler, { metrics }))
      )
      yield* Deferred.await(started)
      // the runner may still be letting the others in: `started` resumes this fiber from inside the first task
      yield* Effect.yieldNow
      assert.strictEqual((yield* scheduler.stats).queuedTotal, 2)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(finalized, "the running task's finalizer ran before the interruption returned")
      const stats = yield* scheduler.stats
      assert.strictEqual(stats.running, 0)
      assert.strictEqual(stats.queuedTotal, 0)
      const series = metrics.series("stuck", "io", "normal")
      assert.strictEqual(series.submitted, 3)
      assert.strictEqual(series.cancelled, 3)
    }))

  it.effect("a lane at capacity with overflow \"fail\" gives the rejected tasks QueueFull results", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1, capacity: 1, overflow: "fail" })
      const results = yield* run([
        Task.make(Effect.as(Effect.yieldNow, "ran")),
        Task.make(Effect.succeed("queued")),
        Task.make(Effect.succeed("rejected"))
      ], laneOptions(scheduler))
      assert.deepStrictEqual(results.slice(0, 2).map((r) => valueOf(r.exit)), ["ran", "queued"])
      const rejected = results[2]!.exit
      assert.isTrue(Exit.isFailure(rejected) && rejected.cause.reasons[0]?._tag === "Fail")
      assert.instanceOf(
        Exit.isFailure(rejected) ? (rejected.cause.reasons[0] as { error: unknown }).error : 0,
        QueueFull
      )
      assert.strictEqual((yield* scheduler.stats).rejected, 1)
    }))

  it.effect("a lane that shuts down interrupts the queued tasks; the running one finishes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const scheduler = yield* Scheduler.make({ permits: 1 }).pipe(Scope.provide(scope))
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        run(
          [Task.make(Effect.as(Deferred.await(gate), "done")), Task.make(Effect.succeed("never"))],
          laneOptions(scheduler)
        ),
        { startImmediately: true }
      )
      yield* Scope.close(scope, Exit.void)
      yield* Deferred.succeed(gate, undefined)
      const [first, second] = yield* Fiber.join(fiber)
      assert.strictEqual(valueOf(first!.exit), "done")
      assert.isTrue(Exit.isFailure(second!.exit) && second!.exit.cause.reasons.every((r) => r._tag === "Interrupt"))
    }))

  it.effect("thousands of tasks that end at once run one after the other, not nested on the stack", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const tasks = Array.from({ length: 20_000 }, (_, i) => Task.make(Effect.sync(() => i)))
      const results = yield* run(tasks, laneOptions(scheduler))
      assert.strictEqual(results.length, 20_000)
      assert.strictEqual(valueOf(results[19_999]!.exit), 19_999)
      const unlaned = yield* run(tasks, { span: true })
      assert.strictEqual(valueOf(unlaned[19_999]!.exit), 19_999)
    }))

  it.effect("tasks run with the runner's services, under their own span, a child of the runner's", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 2 })
      const results = yield* run(
        ["probe", "probe", "other", "probe"].map((name) => Task.make(Effect.currentSpan, { name })),
        laneOptions(scheduler)
      ).pipe(Effect.withSpan("request"))
      const spans = results.map((result) => valueOf(result.exit) as Tracer.Span)
      assert.deepStrictEqual(spans.map((span) => span.name), ["task probe", "task probe", "task other", "task probe"])
      for (const span of spans) {
        assert.strictEqual(span.status._tag, "Ended", "ended with the task")
        const parent = Option.getOrThrow(span.parent) as Tracer.Span
        assert.strictEqual(parent.name, "request")
      }
    }))

  it.effect("a task that cannot start (a bad level) is its own InvalidConfig result, first, and stops failFast", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const order: Array<string> = []
      const note = (label: string, priority: string) =>
        Task.make(Effect.sync(() => order.push(label)), { priority: priority as never })
      const results = yield* run(
        [note("n", "normal"), note("bad", "urgent"), note("c", "critical")],
        laneOptions(scheduler)
      )
      assert.deepStrictEqual(order, ["c", "n"], "the others run, by priority")
      const bad = results[1]!.exit
      assert.isTrue(Exit.isFailure(bad))
      assert.deepInclude(
        Exit.isFailure(bad) ? (bad.cause.reasons[0] as { error: unknown }).error : {},
        { _tag: "InvalidConfig", field: "task.priority", value: "urgent" }
      )
      order.length = 0
      const failure = yield* Effect.flip(
        run([note("n", "normal"), note("bad", "urgent")], laneOptions(scheduler), { failFast: true })
      )
      assert.deepInclude(failure, { _tag: "InvalidConfig", field: "task.priority" })
      assert.deepStrictEqual(order, [], "the bad task goes first and stops the batch before the other starts")
      assert.strictEqual((yield* scheduler.stats).queuedTotal, 0)
    }))

  it.effect("a queued task's wait is its queue time; without a lane a task starts as it enters, counted by onStart", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const [first, second] = yield* run(
        [Task.make(Effect.sleep("300 millis")), Task.make(Effect.sleep("100 millis"))],
        laneOptions(scheduler)
      ).pipe(Effect.forkChild, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join))
      assert.deepStrictEqual([first!.queueWaitMillis, first!.runMillis], [0, 300])
      assert.deepStrictEqual([second!.queueWaitMillis, second!.runMillis], [300, 100])
      let started = 0
      const unlaned = yield* run(
        [Task.make(Effect.sleep("200 millis")), Task.make(Effect.sleep("200 millis"))],
        { span: true, onStart: () => started++ }
      ).pipe(Effect.forkChild, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join))
      assert.strictEqual(started, 2)
      assert.deepStrictEqual(unlaned.map((r) => [r.queueWaitMillis, r.runMillis]), [[0, 200], [0, 200]])
    }))

  it.effect("a lane with a clock of its own: the tasks' times are still the runner's clock's", () =>
    Effect.gen(function*() {
      // the lane's clock is an hour ahead of the runner's TestClock
      const live = yield* Clock.Clock
      const ahead: Clock.Clock = { ...live, currentTimeMillisUnsafe: () => live.currentTimeMillisUnsafe() + 3_600_000 }
      const scheduler = yield* Scheduler.make({ permits: 1 }).pipe(Effect.provideService(Clock.Clock, ahead))
      yield* TestClock.adjust("10 seconds")
      const results = yield* run(
        [Task.make(Effect.sleep("300 millis")), Task.make(Effect.sleep("100 millis"))],
        laneOptions(scheduler)
      ).pipe(Effect.forkChild, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join))
      assert.deepStrictEqual(
        results.map((r) => [r.enqueuedAt, r.startedAt, r.finishedAt]),
        [[10_000, 10_000, 10_300], [10_000, 10_300, 10_400]]
      )
    }).pipe(Effect.scoped))

  it.live("under Effect's default clock, each task's span times fall between the clock's readings around it", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 2 })
      const probe = Task.make(Effect.flatMap(Effect.sleep("3 millis"), () => Effect.currentSpan), { name: "timed" })
      const before = yield* Clock.currentTimeNanos
      const results = yield* run([probe, probe, probe, probe], laneOptions(scheduler))
      const after = yield* Clock.currentTimeNanos
      for (const result of results) {
        const status = (valueOf(result.exit) as Tracer.Span).status
        assert.isTrue(status._tag === "Ended")
        if (status._tag !== "Ended") return
        assert.isTrue(before <= status.startTime && status.startTime < status.endTime && status.endTime <= after)
        assert.isTrue(status.endTime - status.startTime >= BigInt(2_000_000), "it spans the task")
      }
    }).pipe(Effect.scoped))

  it.effect("without spans, tasks run under the runner's own span", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 2 })
      const results = yield* run(
        [Task.make(Effect.currentSpan, { name: "probe" })],
        laneOptions(scheduler, {
          span: false
        })
      ).pipe(Effect.withSpan("request"))
      assert.strictEqual((valueOf(results[0]!.exit) as Tracer.Span).name, "request")
    }))

  it.effect("an admission without a fiberless lane goes through that admission, task by task", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 2 })
      let admitted = 0
      const results = yield* run([Task.make(Effect.succeed(1)), Task.make(Effect.succeed(2))], {
        admit: (effect, options) => Effect.suspend(() => (admitted++, scheduler.submit(effect, options))),
        span: true
      })
      assert.strictEqual(admitted, 2)
      assert.deepStrictEqual(results.map((r) => valueOf(r.exit)), [1, 2])
    }))

  it.effect("under another tracer it runs through Effect's spans, with the same results", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.make({ permits: 1 })
      const names: Array<string> = []
      const tracer = Tracer.make({
        span: (options) => {
          names.push(options.name)
          return new Tracer.NativeSpan(options)
        }
      })
      const results = yield* run(
        [Task.make(Effect.succeed(1), { name: "a" }), Task.make(Effect.fail(new Boom({ n: 2 })), { name: "b" })],
        laneOptions(scheduler)
      ).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(names, ["task a", "task b"])
      assert.strictEqual(valueOf(results[0]!.exit), 1)
      assert.isTrue(Exit.isFailure(results[1]!.exit))
    }))
})
