import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { TaskPriority } from "../../src/index.ts"
import { Task } from "../../src/index.ts"
import * as BackgroundQueue from "../../src/runtime/orchestrator/BackgroundQueue.ts"
import { execute } from "../../src/runtime/orchestrator/TaskExecution.ts"
import type { ExecutionError } from "../../src/runtime/orchestrator/TaskExecution.ts"

const start = (consumers: number) =>
  BackgroundQueue.make<ExecutionError>({ consumers, execute: (task) => execute(task) })

const tagOf = (exit: Exit.Exit<unknown, unknown>): string | undefined =>
  Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail"
    ? (exit.cause.reasons[0].error as { _tag: string })._tag
    : undefined

const capture = () => {
  const logs: Array<string> = []
  const logger = Logger.make((options) => {
    logs.push(String(Array.isArray(options.message) ? options.message.join(" ") : options.message))
  })
  return { logger, logs }
}

const reasonOf = (result: { readonly exit: Exit.Exit<unknown, unknown> }): string | undefined =>
  Exit.isFailure(result.exit) && result.exit.cause.reasons[0]?._tag === "Fail"
    ? (result.exit.cause.reasons[0].error as { reason?: string }).reason
    : undefined

describe("BackgroundQueue", () => {
  it.effect("submit returns a handle; await gives the value; poll and status follow the task", () =>
    Effect.gen(function*() {
      const pool = yield* start(2)
      const handle = yield* pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), "done")))
      yield* Effect.yieldNow
      assert.strictEqual(yield* handle.status, "running")
      assert.isTrue(Option.isNone(yield* handle.poll))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* handle.await, "done")
      assert.strictEqual(yield* handle.status, "done")
      const polled = yield* handle.poll
      assert.isTrue(Option.isSome(polled) && Exit.isSuccess(polled.value.exit))
      assert.strictEqual((yield* handle.result).runMillis, 1_000)
    }))

  it.effect("consumers take tasks by priority, FIFO within a level", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const order: Array<string> = []
      const job = (name: string, priority: TaskPriority.TaskPriority) =>
        pool.submit(Task.make(Effect.sync(() => order.push(name)), { name, priority }))
      const blocker = yield* pool.submit(Task.make(Effect.sleep("1 second")))
      yield* Effect.yieldNow
      const handles = [
        yield* job("low-1", "low"),
        yield* job("normal-1", "normal"),
        yield* job("critical-1", "critical"),
        yield* job("high-1", "high"),
        yield* job("critical-2", "critical"),
        yield* job("low-2", "low")
      ]
      yield* TestClock.adjust("1 second")
      yield* blocker.await
      yield* Effect.forEach(handles, (h) => h.await, { discard: true })
      assert.deepStrictEqual(order, ["critical-1", "critical-2", "high-1", "normal-1", "low-1", "low-2"])
    }))

  it.effect("at most `consumers` tasks run at once", () =>
    Effect.gen(function*() {
      const pool = yield* start(3)
      let running = 0
      let peak = 0
      const body = Effect.gen(function*() {
        running++
        peak = Math.max(peak, running)
        yield* Effect.sleep("100 millis")
        running--
      })
      const handles = yield* Effect.forEach(Array.from({ length: 10 }), () => pool.submit(Task.make(body)))
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(handles, (h) => h.await, { discard: true })
      assert.strictEqual(peak, 3)
      assert.strictEqual((yield* pool.stats).completed, 10)
    }))

  it.effect("cancel removes a queued task at once and interrupts a running one, both as TaskCancelled", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("100 millis")
      const pool = yield* start(1)
      let interrupted = false
      let queuedRan = false
      const running = yield* pool.submit(Task.make(Effect.onInterrupt(Effect.never, () =>
        Effect.sync(() => {
          interrupted = true
        }))))
      const queued = yield* pool.submit(Task.make(Effect.sync(() => {
        queuedRan = true
      })))
      yield* Effect.yieldNow
      assert.strictEqual(yield* queued.status, "queued")
      yield* queued.cancel
      assert.strictEqual(tagOf((yield* queued.result).exit), "TaskCancelled")
      assert.strictEqual((yield* pool.stats).queued, 0)
      yield* TestClock.adjust("250 millis")
      yield* running.cancel
      const error = yield* Effect.flip(running.await)
      assert.strictEqual(error._tag, "TaskCancelled")
      assert.strictEqual(error._tag === "TaskCancelled" && error.reason, "cancelled by handle")
      const timings = yield* running.result
      assert.deepStrictEqual(
        [timings.enqueuedAt, timings.startedAt, timings.finishedAt, timings.runMillis, timings.queueWaitMillis],
        [100, 100, 350, 250, 0]
      )
      assert.strictEqual(timings.attempts, 1)
      const never = yield* queued.result
      assert.deepStrictEqual([never.enqueuedAt, never.startedAt, never.attempts], [100, 100, 0])
      assert.isTrue(interrupted)
      assert.isFalse(queuedRan)
      assert.strictEqual((yield* pool.stats).cancelled, 2)
    }))

  it.effect("drain shutdown finishes queued and running work, then refuses new work with PoolShutDown", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handles = yield* Effect.forEach(
        [1, 2, 3],
        (n) => pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), n)))
      )
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "drain", deadline: 10_000 }))
      yield* Effect.yieldNow
      const refused = yield* Effect.flip(pool.submit(Task.make(Effect.void)))
      assert.strictEqual(refused._tag, "PoolShutDown")
      assert.strictEqual(refused.service, "BackgroundPool")
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(shutdown)
      assert.deepStrictEqual(yield* Effect.forEach(handles, (h) => h.await), [1, 2, 3])
    }))

  it.effect("drain past its deadline cancels what is left with a typed error: nothing is lost", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handles = yield* Effect.forEach(
        [1, 2, 3],
        (n) => pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), n)))
      )
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "drain", deadline: 1_500 }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(shutdown)
      const results = yield* Effect.forEach(handles, (h) => h.result)
      assert.isTrue(Exit.isSuccess(results[0]!.exit))
      assert.deepStrictEqual(results.slice(1).map((r) => tagOf(r.exit)), ["TaskCancelled", "TaskCancelled"])
      // The second task was running at the deadline, the third still queued: both say why they stopped.
      assert.deepStrictEqual(
        results.slice(1).map((r) => Exit.isFailure(r.exit) && (r.exit.cause.reasons[0] as any).error.reason),
        ["shutdown deadline passed", "shutdown deadline passed"]
      )
      assert.deepStrictEqual(results.slice(1).map((r) => [r.queueWaitMillis, r.runMillis]), [[1_000, 500], [1_500, 0]])
    }))

  it.effect("a drain says what it waits for and until when, and stopEarly (a second Ctrl-C) stops it at once, typed", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make((options) => {
        logs.push(String(Array.isArray(options.message) ? options.message.join(" ") : options.message))
      })
      const pool = yield* start(1)
      const handles = yield* Effect.forEach([1, 2], (n) => pool.submit(Task.make(Effect.as(Effect.never, n))))
      yield* Effect.yieldNow
      const second = yield* Deferred.make<void>()
      const shutdown = yield* Effect.forkChild(
        pool.shutdown({ mode: "drain", deadline: 10_000, stopEarly: Deferred.await(second) }).pipe(
          Effect.provide(Logger.layer([logger]))
        )
      )
      yield* TestClock.adjust("1 second")
      assert.isUndefined(shutdown.pollUnsafe(), "still draining")
      assert.strictEqual(logs.length, 1)
      assert.match(logs[0]!, /draining 1 running and 1 queued task\(s\) until 1970-01-01T00:00:10\.000Z \(10000 ms\)/)
      assert.include(logs[0]!, "interrupt again")
      yield* Deferred.succeed(second, undefined)
      yield* Fiber.join(shutdown)
      const results = yield* Effect.forEach(handles, (h) => h.result)
      assert.deepStrictEqual(
        results.map((r) => Exit.isFailure(r.exit) && (r.exit.cause.reasons[0] as any).error.reason),
        ["stopped by a second interrupt", "stopped by a second interrupt"]
      )
      assert.include(logs[1]!, "stopped by a second interrupt")
    }))

  it.effect("a drain with one running task and idle consumers ends when that task does", () =>
    Effect.gen(function*() {
      const pool = yield* start(3)
      const handle = yield* pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), "last")))
      yield* Effect.yieldNow
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "drain", deadline: 10_000 }))
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(shutdown.pollUnsafe(), "the running task is not done yet")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(shutdown)
      assert.strictEqual(yield* handle.await, "last")
      const stats = yield* pool.stats
      assert.deepStrictEqual([stats.running, stats.queued, stats.completed, stats.cancelled], [0, 0, 1, 0])
    }))

  it.effect("a drain right after the first submit, before any consumer has started, waits for that task", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handle = yield* pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), "first")))
      assert.deepStrictEqual([(yield* pool.stats).queued, (yield* pool.stats).running], [1, 0])
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "drain", deadline: 10_000 }), {
        startImmediately: true
      })
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(shutdown.pollUnsafe(), "the task has not run yet")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(shutdown)
      assert.strictEqual(yield* handle.await, "first")
    }))

  it.effect("draining an idle queue returns at once, silently", () =>
    Effect.gen(function*() {
      const { logger, logs } = capture()
      const pool = yield* start(2)
      yield* pool.shutdown({ mode: "drain", deadline: 10_000 }).pipe(Effect.provide(Logger.layer([logger])))
      assert.isFalse((yield* pool.stats).accepting)
      assert.deepStrictEqual(logs, [])
    }))

  it.effect("a drain that ends in time says so once, offers no second Ctrl-C without stopEarly, and warns of nothing", () =>
    Effect.gen(function*() {
      const { logger, logs } = capture()
      const pool = yield* start(1)
      const handle = yield* pool.submit(Task.make(Effect.as(Effect.sleep("1 second"), 1)))
      yield* Effect.yieldNow
      const shutdown = yield* Effect.forkChild(
        pool.shutdown({ mode: "drain", deadline: 10_000 }).pipe(Effect.provide(Logger.layer([logger])))
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(shutdown)
      assert.strictEqual(yield* handle.await, 1)
      assert.strictEqual(logs.length, 1)
      assert.include(logs[0]!, "draining 1 running and 0 queued")
      assert.match(logs[0]!, /\(10000 ms\)$/, "nothing about a second Ctrl-C")
    }))

  it.effect("a drain with two running tasks ends when the last one does, not the first", () =>
    Effect.gen(function*() {
      const pool = yield* start(2)
      const handles = yield* Effect.forEach(
        [1, 2],
        (n) => pool.submit(Task.make(Effect.as(Effect.sleep(`${n} seconds`), n)))
      )
      yield* Effect.yieldNow
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "drain", deadline: 10_000 }))
      yield* TestClock.adjust("1500 millis")
      assert.isUndefined(shutdown.pollUnsafe(), "one task still runs")
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(shutdown)
      assert.deepStrictEqual(yield* Effect.forEach(handles, (h) => h.await), [1, 2])
    }))

  it.effect("shutdown now waits for a running task's own interruption to finish before it returns", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handle = yield* pool.submit(Task.make(Effect.onInterrupt(Effect.never, () => Effect.sleep("1 second"))))
      yield* Effect.yieldNow
      const shutdown = yield* Effect.forkChild(pool.shutdown({ mode: "now" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(shutdown)
      assert.isTrue(Option.isSome(yield* handle.poll))
      assert.strictEqual((yield* pool.stats).running, 0)
    }))

  it.effect("shutdown now cancels everything at once", () =>
    Effect.gen(function*() {
      const pool = yield* start(2)
      const handles = yield* Effect.forEach([1, 2, 3, 4], () => pool.submit(Task.make(Effect.never)))
      yield* Effect.yieldNow
      yield* pool.shutdown({ mode: "now" })
      // every handle is settled when shutdown returns, the running ones included
      const polled = yield* Effect.forEach(handles, (h) => h.poll)
      assert.isTrue(polled.every(Option.isSome))
      const results = yield* Effect.forEach(handles, (h) => h.result)
      assert.deepStrictEqual(results.map((r) => tagOf(r.exit)), Array(4).fill("TaskCancelled"))
      assert.deepStrictEqual(results.map(reasonOf), Array(4).fill("shut down"))
      // two ran (one attempt each), two never started
      assert.deepStrictEqual(results.map((r) => r.attempts), [1, 1, 0, 0])
      assert.deepStrictEqual(yield* pool.stats, { accepting: false, queued: 0, running: 0, completed: 0, cancelled: 4 })
    }))

  it.effect("closing the scope cancels pending work and every handle still resolves", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(start(1), scope)
      const handles = yield* Effect.forEach([1, 2], () => pool.submit(Task.make(Effect.never)))
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      const results = yield* Effect.forEach(handles, (h) => h.result)
      assert.deepStrictEqual(results.map((r) => tagOf(r.exit)), ["TaskCancelled", "TaskCancelled"])
    }))

  it.effect("a task that interrupts itself ends as a typed TaskCancelled, not a defect", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handle = yield* pool.submit(Task.make(Effect.interrupt))
      const error = yield* Effect.flip(handle.await)
      assert.strictEqual(error._tag, "TaskCancelled")
      assert.strictEqual(error._tag === "TaskCancelled" && error.reason, "interrupted while running")
    }))

  it.effect("a task that cancels its own handle as it starts is cancelled", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      let ranOn = false
      const self: { handle?: BackgroundQueue.TaskHandle<void, unknown> } = {}
      const handle = yield* pool.submit(Task.make(Effect.gen(function*() {
        yield* self.handle!.cancel
        yield* Effect.sleep("1 second")
        ranOn = true
      })))
      self.handle = handle
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(handle.await)
      assert.strictEqual(error._tag === "TaskCancelled" && error.reason, "cancelled by handle")
      assert.isFalse(ranOn)
    }))

  it.effect("background aging: a low task waiting behind a busy consumer reaches critical after 3 × 10 s", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const order: Array<string> = []
      const job = (name: string, priority: TaskPriority.TaskPriority) =>
        pool.submit(Task.make(Effect.sync(() => order.push(name)), { name, priority }))
      const blocker = yield* pool.submit(Task.make(Effect.sleep("40 seconds")))
      yield* Effect.yieldNow
      const low = yield* job("low", "low")
      yield* TestClock.adjust("35 seconds")
      // critical since 30 s: ahead of a critical task that arrived at 35 s
      const late = yield* job("critical-late", "critical")
      yield* TestClock.adjust("5 seconds")
      yield* Effect.forEach([blocker, low, late], (h) => h.await, { discard: true })
      assert.deepStrictEqual(order, ["low", "critical-late"])
    }))

  it.effect("agingMillis sets the background queue's aging step", () =>
    Effect.gen(function*() {
      const pool = yield* BackgroundQueue.make<ExecutionError>({ consumers: 1, execute, agingMillis: 100 })
      const order: Array<string> = []
      const job = (name: string, priority: TaskPriority.TaskPriority) =>
        pool.submit(Task.make(Effect.sync(() => order.push(name)), { name, priority }))
      const blocker = yield* pool.submit(Task.make(Effect.sleep("1 second")))
      yield* Effect.yieldNow
      const low = yield* job("low", "low")
      yield* TestClock.adjust("350 millis")
      const late = yield* job("critical-late", "critical")
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach([blocker, low, late], (h) => h.await, { discard: true })
      assert.deepStrictEqual(order, ["low", "critical-late"])
    }))

  it.effect("nextInterruptSignal completes at the next SIGINT or SIGTERM and then stops listening", () =>
    Effect.gen(function*() {
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        const before = [process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")]
        const waiting = yield* Effect.forkChild(BackgroundQueue.nextInterruptSignal)
        yield* Effect.yieldNow
        assert.deepStrictEqual([process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")], [
          before[0]! + 1,
          before[1]! + 1
        ])
        assert.isUndefined(waiting.pollUnsafe())
        // only our listener: this runs the listeners, it sends no signal
        if (before[0] === 0 && before[1] === 0) process.emit(signal)
        else yield* Fiber.interrupt(waiting)
        yield* Fiber.await(waiting)
        assert.deepStrictEqual([process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")], before)
      }
    }))

  it.effect("a task's own failure reaches its handle unchanged", () =>
    Effect.gen(function*() {
      const pool = yield* start(1)
      const handle = yield* pool.submit(Task.make(Effect.fail({ _tag: "Boom" as const })))
      assert.deepStrictEqual(yield* Effect.flip(handle.await), { _tag: "Boom" })
    }))
})
