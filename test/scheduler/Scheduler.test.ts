import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Latch, Layer, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { SchedulerConfigInput } from "../../src/domain/Config.ts"
import { InvalidConfig, QueueFull } from "../../src/domain/OrchestratorError.ts"
import type { TaskPriority } from "../../src/domain/TaskPriority.ts"
import * as Scheduler from "../../src/layers/Scheduler.ts"
import { make, metrics } from "../../src/layers/Scheduler.ts"

type Service = Scheduler.Scheduler["Service"]

/** Runs `f` against a fresh scheduler whose metrics go to a private registry. */
const withScheduler = <A, E>(
  config: SchedulerConfigInput,
  f: (scheduler: Service) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E | InvalidConfig, Scope.Scope> =>
  Effect.flatMap(make(config), f).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

/** Forks a submission and lets it reach the queue (or start) before returning. */
const fork = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

/** A task that records its name when it starts and then waits for `gate`. */
const gated = (log: Array<string>, name: string, gate: Latch.Latch) =>
  Effect.andThen(Effect.sync(() => log.push(name)), gate.await)

describe("Scheduler configuration", () => {
  it.effect("zero or negative permits, capacity or rate are typed errors naming the field", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [SchedulerConfigInput, string, string]> = [
        [{ permits: 0 }, "scheduler.permits", "0"],
        [{ permits: -4 }, "scheduler.permits", "-4"],
        [{ permits: 1.5 }, "scheduler.permits", "1.5"],
        [{ capacity: 0 }, "scheduler.capacity", "0"],
        [{ capacity: -1 }, "scheduler.capacity", "-1"],
        [{ rate: { limit: 0, interval: 1_000 } }, "scheduler.rate.limit", "0"],
        [{ rate: { limit: 5, interval: 0 } }, "scheduler.rate.interval", "0"],
        [{ rate: { limit: 5, interval: -10 } }, "scheduler.rate.interval", "-10"],
        [{ perKeyLimit: 0 }, "scheduler.perKeyLimit", "0"],
        [{ aging: 0 }, "scheduler.aging", "0"]
      ]
      for (const [config, field, value] of cases) {
        const error = yield* Effect.flip(Effect.scoped(make(config)))
        assert.instanceOf(error, InvalidConfig)
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.value, value)
      }
      const fromLayer = yield* Effect.flip(Effect.scoped(Layer.build(Scheduler.layer({ permits: 0 }))))
      assert.strictEqual(fromLayer.field, "scheduler.permits")
    }))

  it.effect("resize rejects bad sizes by name and keeps the old size", () =>
    withScheduler({ permits: 3 }, (scheduler) =>
      Effect.gen(function*() {
        for (const bad of [0, -1, 2.5, Number.NaN]) {
          const error = yield* Effect.flip(scheduler.resize(bad))
          assert.strictEqual(error._tag, "InvalidConfig")
          assert.strictEqual(error.field, "scheduler.permits")
        }
        assert.strictEqual((yield* scheduler.stats).permits, 3)
      })))

  it.effect("an unknown priority from untyped code is a defect, not a silent default", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(scheduler.submit(Effect.void, { priority: "urgent" as TaskPriority }))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
        assert.include(String(Exit.isFailure(exit) && Cause.squash(exit.cause)), "unknown task priority: urgent")
        assert.strictEqual((yield* scheduler.stats).running, 0)
      })))
})

describe("Scheduler admission", () => {
  it.effect("critical > high > normal > low, first come first served within a level", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const submitted = [
          ["L1", "low"],
          ["N1", "normal"],
          ["C1", "critical"],
          ["H1", "high"],
          ["C2", "critical"],
          [
            "L2",
            "low"
          ],
          ["N2", "normal"],
          ["H2", "high"]
        ] as const
        const fibers = []
        for (const [name, priority] of submitted) {
          fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push(name)), { priority })))
        }
        const stats = yield* scheduler.stats
        assert.deepStrictEqual(stats.queued, { critical: 2, high: 2, normal: 2, low: 2 })
        assert.strictEqual(stats.running, 1)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(log, ["C1", "C2", "H1", "H2", "N1", "N2", "L1", "L2"])
      })))

  it.effect("never more than `permits` tasks at once", () =>
    withScheduler({ permits: 3 }, (scheduler) =>
      Effect.gen(function*() {
        let running = 0
        let peak = 0
        const task = Effect.gen(function*() {
          running++
          peak = Math.max(peak, running)
          yield* Effect.sleep("10 millis")
          running--
        })
        const fiber = yield* fork(Effect.forEach(Array.from({ length: 20 }), () => scheduler.submit(task), {
          concurrency: "unbounded",
          discard: true
        }))
        assert.strictEqual((yield* scheduler.stats).running, 3)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(fiber)
        assert.strictEqual(peak, 3)
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.admitted, 20)
        assert.strictEqual(stats.running, 0)
      })))

  it.effect("a task's value and typed error pass through, and a failure or defect releases the permit", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* scheduler.submit(Effect.succeed(42)), 42)
        const error = yield* Effect.flip(scheduler.submit(Effect.fail("boom" as const)))
        assert.strictEqual(error, "boom")
        const defect = yield* Effect.exit(scheduler.submit(Effect.die("bug")))
        assert.isTrue(Exit.isFailure(defect) && Cause.hasDies(defect.cause))
        assert.strictEqual((yield* scheduler.stats).running, 0)
        assert.strictEqual(yield* scheduler.submit(Effect.succeed("still free")), "still free")
      })))

  it.effect("interrupting a waiting caller removes its task at once; it never runs and takes no permit", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const doomed = yield* fork(scheduler.submit(Effect.sync(() => log.push("doomed")), { priority: "critical" }))
        const next = yield* fork(scheduler.submit(Effect.sync(() => log.push("next")), { priority: "low" }))
        assert.strictEqual((yield* scheduler.stats).queuedTotal, 2)
        yield* Fiber.interrupt(doomed)
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.queuedTotal, 1)
        assert.strictEqual(stats.queued.critical, 0)
        assert.strictEqual(stats.running, 1)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.join(next)
        assert.deepStrictEqual(log, ["next"])
        assert.strictEqual((yield* scheduler.stats).admitted, 2)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(doomed)))
      })))

  it.effect("interrupting a running task releases its permit to the next waiter", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const released = yield* Deferred.make<void>()
        const running = yield* fork(
          scheduler.submit(Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(released, undefined))))
        )
        const waiter = yield* fork(scheduler.submit(Effect.sync(() => log.push("waiter"))))
        assert.deepStrictEqual(log, [])
        yield* Fiber.interrupt(running)
        yield* Deferred.await(released)
        yield* Fiber.join(waiter)
        assert.deepStrictEqual(log, ["waiter"])
        assert.strictEqual((yield* scheduler.stats).running, 0)
      })))

  it.effect("interrupting a task that waited in the queue and then started releases its permit", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const queued = yield* fork(
          scheduler.submit(Effect.andThen(Effect.sync(() => log.push("queued")), Effect.never))
        )
        const next = yield* fork(scheduler.submit(Effect.sync(() => log.push("next"))))
        yield* gate.open
        yield* Fiber.join(blocker)
        assert.deepStrictEqual(log, ["queued"])
        yield* Fiber.interrupt(queued)
        yield* Fiber.join(next)
        assert.deepStrictEqual(log, ["queued", "next"])
        assert.strictEqual((yield* scheduler.stats).running, 0)
      })))

  it.effect("a waiter interrupted after it was handed a permit, before it ran, gives the permit back", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const victimRef: { fiber?: Fiber.Fiber<unknown, unknown> } = {}
        // the first waiter runs first and, synchronously, interrupts the second, which was admitted in the same
        // step (both got a permit from one resize) but has not run yet
        const first = yield* fork(scheduler.submit(
          Effect.sync(() => {
            log.push("first")
            victimRef.fiber!.interruptUnsafe()
          }),
          { priority: "critical" }
        ))
        const victim = yield* fork(scheduler.submit(Effect.sync(() => log.push("victim")), { priority: "high" }))
        victimRef.fiber = victim
        const last = yield* fork(scheduler.submit(gated(log, "last", gate), { priority: "low" }))
        yield* scheduler.resize(3)
        yield* Fiber.join(first)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(victim)))
        // victim's permit went to `last`
        assert.deepStrictEqual(log, ["first", "last"])
        assert.strictEqual((yield* scheduler.stats).running, 2)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.join(last)
        assert.strictEqual((yield* scheduler.stats).running, 0)
      })))

  it.effect("resize: growing admits waiters at once by priority; shrinking lets running tasks finish", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const fibers = [yield* fork(scheduler.submit(gated(log, "first", gate)))]
        for (const [name, priority] of [["low", "low"], ["high", "high"], ["normal", "normal"]] as const) {
          fibers.push(yield* fork(scheduler.submit(gated(log, name, gate), { priority })))
        }
        yield* scheduler.resize(3)
        assert.deepStrictEqual(log, ["first", "high", "normal"])
        yield* scheduler.resize(1)
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.running, 3)
        assert.strictEqual(stats.permits, 1)
        assert.strictEqual(stats.queued.low, 1)
        yield* gate.open
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(log, ["first", "high", "normal", "low"])
      })))

  it.effect("running tasks above a shrunk size hold new tasks back until they are below it", () =>
    withScheduler({ permits: 2 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gateA = yield* Latch.make(false)
        const gateB = yield* Latch.make(false)
        const a = yield* fork(scheduler.submit(gated(log, "a", gateA)))
        const b = yield* fork(scheduler.submit(gated(log, "b", gateB)))
        const c = yield* fork(scheduler.submit(Effect.sync(() => log.push("c"))))
        yield* scheduler.resize(1)
        yield* gateA.open
        yield* Fiber.join(a)
        // one still runs: at the new size of 1, nothing more may start
        assert.deepStrictEqual(log, ["a", "b"])
        yield* gateB.open
        yield* Fiber.join(b)
        yield* Fiber.join(c)
        assert.deepStrictEqual(log, ["a", "b", "c"])
      })))

  it.effect("tens of thousands of waiters that end synchronously drain without growing the stack", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        let done = 0
        const all = yield* fork(Effect.forEach(
          Array.from({ length: 30_000 }),
          () => scheduler.submit(Effect.sync(() => done++)),
          { concurrency: "unbounded", discard: true }
        ))
        yield* Effect.yieldNow
        assert.strictEqual((yield* scheduler.stats).queuedTotal, 30_000)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.join(all)
        assert.strictEqual(done, 30_000)
      })))
})

describe("Scheduler fairness", () => {
  it.effect("keys take turns within a level", () =>
    withScheduler({ permits: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const fibers: Array<Fiber.Fiber<unknown, unknown>> = [yield* fork(scheduler.submit(gate.await))]
        for (let i = 1; i <= 4; i++) {
          fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push(`a${i}`)), { key: "a" })))
        }
        fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push("b1")), { key: "b" })))
        fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push("b2")), { key: "b" })))
        fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push("anon")))))
        yield* gate.open
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(log, ["a1", "b1", "anon", "a2", "b2", "a3", "a4"])
      })))

  it.effect("perKeyLimit caps one key's running tasks while other keys use the remaining permits", () =>
    withScheduler({ permits: 4, perKeyLimit: 2 }, (scheduler) =>
      Effect.gen(function*() {
        const running = new Map<string, number>()
        const peak = new Map<string, number>()
        let total = 0
        let totalPeak = 0
        const task = (key: string) =>
          Effect.gen(function*() {
            running.set(key, (running.get(key) ?? 0) + 1)
            peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key)!))
            totalPeak = Math.max(totalPeak, ++total)
            yield* Effect.sleep("10 millis")
            running.set(key, running.get(key)! - 1)
            total--
          })
        // key `a` floods first; `b` and `c` come after its whole backlog
        const jobs = [
          ...Array.from({ length: 12 }, () => "a"),
          ...Array.from({ length: 3 }, () => "b"),
          ...Array.from({ length: 3 }, () => "c")
        ]
        const fiber = yield* fork(Effect.forEach(jobs, (key) => scheduler.submit(task(key), { key }), {
          concurrency: "unbounded",
          discard: true
        }))
        // after the first wave: a holds only its 2 permits, b and c share the other 2 at once
        const first = yield* scheduler.stats
        assert.strictEqual(first.running, 4)
        assert.strictEqual(running.get("a"), 2)
        assert.strictEqual((running.get("b") ?? 0) + (running.get("c") ?? 0), 2)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        assert.strictEqual(peak.get("a"), 2)
        assert.strictEqual(peak.get("b"), 2)
        assert.strictEqual(peak.get("c"), 2)
        assert.strictEqual(totalPeak, 4)
      })))

  it.effect("a key at its limit does not hold back other keys' less urgent tasks", () =>
    withScheduler({ permits: 2, perKeyLimit: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const a1 = yield* fork(scheduler.submit(gated(log, "a1", gate), { key: "a", priority: "critical" }))
        const a2 = yield* fork(scheduler.submit(gated(log, "a2", gate), { key: "a", priority: "critical" }))
        const b1 = yield* fork(scheduler.submit(gated(log, "b1", gate), { key: "b", priority: "low" }))
        assert.deepStrictEqual(log, ["a1", "b1"])
        assert.strictEqual((yield* scheduler.stats).queued.critical, 1)
        yield* gate.open
        yield* Fiber.joinAll([a1, a2, b1])
        assert.deepStrictEqual(log, ["a1", "b1", "a2"])
      })))
})

describe("Scheduler capacity", () => {
  it.effect("overflow \"fail\": a full queue rejects at once with QueueFull", () =>
    withScheduler({ permits: 1, capacity: 2, overflow: "fail" }, (scheduler) =>
      Effect.gen(function*() {
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const queued = [yield* fork(scheduler.submit(Effect.void)), yield* fork(scheduler.submit(Effect.void))]
        const error = yield* Effect.flip(scheduler.submit(Effect.void, { priority: "low" }))
        assert.instanceOf(error, QueueFull)
        assert.strictEqual(error.capacity, 2)
        assert.strictEqual(error.priority, "low")
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.rejected, 1)
        assert.strictEqual(stats.queuedTotal, 2)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.joinAll(queued)
        // room again
        yield* scheduler.submit(Effect.void)
        assert.strictEqual((yield* scheduler.stats).admitted, 4)
      })))

  it.effect("overflow \"fail\": a task that finds a free permit is never rejected", () =>
    withScheduler({ permits: 2, capacity: 1, overflow: "fail" }, (scheduler) =>
      Effect.gen(function*() {
        const gate = yield* Latch.make(false)
        const first = yield* fork(scheduler.submit(gate.await))
        const second = yield* fork(scheduler.submit(gate.await))
        assert.strictEqual((yield* scheduler.stats).running, 2)
        yield* gate.open
        yield* Fiber.joinAll([first, second])
        assert.strictEqual((yield* scheduler.stats).rejected, 0)
      })))

  it.effect("overflow \"suspend\": submitters wait for room and enter in arrival order", () =>
    withScheduler({ permits: 1, capacity: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const fibers = []
        for (const [name, priority] of [["w1", "normal"], ["w2", "low"], ["w3", "critical"]] as const) {
          fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push(name)), { priority })))
        }
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.queuedTotal, 1)
        assert.strictEqual(stats.waitingForCapacity, 2)
        assert.strictEqual(stats.rejected, 0)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(log, ["w1", "w2", "w3"])
      })))

  it.effect("overflow \"suspend\": interrupting a suspended submitter removes it", () =>
    withScheduler({ permits: 1, capacity: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const w1 = yield* fork(scheduler.submit(Effect.sync(() => log.push("w1"))))
        const w2 = yield* fork(scheduler.submit(Effect.sync(() => log.push("w2"))))
        const w3 = yield* fork(scheduler.submit(Effect.sync(() => log.push("w3"))))
        yield* Fiber.interrupt(w2)
        assert.strictEqual((yield* scheduler.stats).waitingForCapacity, 1)
        // interrupting a queued one lets the next suspended one in
        yield* Fiber.interrupt(w1)
        const stats = yield* scheduler.stats
        assert.strictEqual(stats.queuedTotal, 1)
        assert.strictEqual(stats.waitingForCapacity, 0)
        yield* gate.open
        yield* Fiber.join(blocker)
        yield* Fiber.join(w3)
        assert.deepStrictEqual(log, ["w3"])
      })))

  it.effect("a suspended submitter whose key may run takes a permit the queued tasks cannot use", () =>
    withScheduler({ permits: 2, perKeyLimit: 1, capacity: 1 }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gateB = yield* Latch.make(false)
        const gateA = yield* Latch.make(false)
        const b0 = yield* fork(scheduler.submit(gated(log, "b0", gateB), { key: "b" }))
        const a1 = yield* fork(scheduler.submit(gated(log, "a1", gateA), { key: "a" }))
        const a2 = yield* fork(scheduler.submit(gated(log, "a2", gateA), { key: "a" }))
        const b1 = yield* fork(scheduler.submit(gated(log, "b1", gateB), { key: "b" }))
        let stats = yield* scheduler.stats
        assert.strictEqual(stats.queuedTotal, 1)
        assert.strictEqual(stats.waitingForCapacity, 1)
        yield* Effect.sync(() => gateB.openUnsafe())
        yield* Fiber.join(b0)
        // a2 (queued) cannot run while a1 runs; b1 (suspended) can, and does
        assert.deepStrictEqual(log, ["b0", "a1", "b1"])
        stats = yield* scheduler.stats
        assert.strictEqual(stats.queuedTotal, 1)
        assert.strictEqual(stats.waitingForCapacity, 0)
        yield* gateA.open
        yield* Fiber.joinAll([a1, a2, b1])
        assert.deepStrictEqual(log, ["b0", "a1", "b1", "a2"])
      })))
})

describe("Scheduler aging (TestClock)", () => {
  it.effect("a waiting task climbs one level per aging up to critical", () =>
    withScheduler({ permits: 1, aging: 100 }, (scheduler) =>
      Effect.gen(function*() {
        const gate = yield* Latch.make(false)
        const blocker = yield* fork(scheduler.submit(gate.await))
        const low = yield* fork(scheduler.submit(Effect.void, { priority: "low" }))
        yield* TestClock.adjust("99 millis")
        assert.strictEqual((yield* scheduler.stats).queued.low, 1)
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual((yield* scheduler.stats).queued, { critical: 0, high: 0, normal: 1, low: 0 })
        yield* TestClock.adjust("200 millis")
        const stats = yield* scheduler.stats
        assert.deepStrictEqual(stats.queued, { critical: 1, high: 0, normal: 0, low: 0 })
        assert.strictEqual(stats.promoted, 3)
        yield* gate.open
        yield* Fiber.joinAll([blocker, low])
      })))

  // One permit, tasks of 10 ms, and a producer that keeps one high task waiting at all times: without aging
  // the low task never runs.
  const sustainedHighLoad = (aging: number) =>
    withScheduler({ permits: 1, aging }, (scheduler) =>
      Effect.gen(function*() {
        const highTask = scheduler.submit(Effect.sleep("10 millis"), { priority: "high" })
        yield* fork(highTask)
        yield* fork(highTask)
        let lowStartedAt: number | undefined
        const low = yield* fork(scheduler.submit(
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => lowStartedAt = now)),
          { priority: "low" }
        ))
        yield* fork(Effect.forever(Effect.andThen(Effect.sleep("10 millis"), fork(highTask))))
        for (let i = 0; i < 100 && lowStartedAt === undefined; i++) yield* TestClock.adjust("10 millis")
        const stats = yield* scheduler.stats
        yield* Fiber.interrupt(low)
        return { lowStartedAt, stats }
      }))

  it.effect("a low task finishes under sustained high-priority load", () =>
    Effect.gen(function*() {
      const { lowStartedAt, stats } = yield* sustainedHighLoad(100)
      assert.isDefined(lowStartedAt)
      // low → normal at 100, → high at 200, then first among the high tasks that reached the level after it
      assert.isAtMost(lowStartedAt!, 220)
      assert.isAtLeast(lowStartedAt!, 200)
      assert.isAtLeast(stats.promoted, 2)
    }))

  it.effect("without aging the same load starves it (the test above can fail)", () =>
    Effect.gen(function*() {
      const { lowStartedAt, stats } = yield* sustainedHighLoad(1_000_000)
      assert.isUndefined(lowStartedAt)
      assert.strictEqual(stats.queued.low, 1)
      assert.isAtLeast(stats.admitted, 100)
    }))
})

describe("Scheduler rate limit (TestClock)", () => {
  it.effect("at most `limit` admissions per interval", () =>
    withScheduler({ permits: 10, rate: { limit: 2, interval: 100 } }, (scheduler) =>
      Effect.gen(function*() {
        const startedAt: Array<number> = []
        const task = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => startedAt.push(now)))
        const fiber = yield* fork(Effect.forEach(Array.from({ length: 7 }), () => scheduler.submit(task), {
          concurrency: "unbounded",
          discard: true
        }))
        yield* TestClock.adjust("0 millis")
        assert.deepStrictEqual(startedAt, [0, 0])
        yield* TestClock.adjust("99 millis")
        assert.deepStrictEqual(startedAt, [0, 0])
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(startedAt, [0, 0, 100, 100])
        yield* TestClock.adjust("200 millis")
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(startedAt, [0, 0, 100, 100, 200, 200, 300])
      })))

  // 14 ms / 3 tokens is not exact in floating point: the limiter's window then ends a hair after the tick, and a
  // retry that small must neither spin nor push every later window back by a millisecond
  it.effect("a window that does not divide evenly by the limit still opens on time", () =>
    withScheduler({ permits: 20, rate: { limit: 3, interval: 14 } }, (scheduler) =>
      Effect.gen(function*() {
        const startedAt: Array<number> = []
        const task = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => startedAt.push(now)))
        const fiber = yield* fork(Effect.forEach(Array.from({ length: 12 }), () => scheduler.submit(task), {
          concurrency: "unbounded",
          discard: true
        }))
        for (let i = 0; i < 50; i++) yield* TestClock.adjust("1 millis")
        yield* Fiber.join(fiber)
        assert.strictEqual(startedAt.length, 12)
        startedAt.forEach((at, i) => {
          const windowStart = Math.floor(i / 3) * 14
          assert.isAtLeast(at, windowStart)
          assert.isBelow(at, windowStart + 0.1)
        })
      })))

  it.effect("the rate gate admits by priority", () =>
    withScheduler({ permits: 10, rate: { limit: 1, interval: 100 } }, (scheduler) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const fibers = []
        for (const priority of ["low", "normal", "critical", "high"] as const) {
          fibers.push(yield* fork(scheduler.submit(Effect.sync(() => log.push(priority)), { priority })))
        }
        yield* TestClock.adjust("0 millis")
        yield* TestClock.adjust("300 millis")
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(log, ["critical", "high", "normal", "low"])
      })))

  it.effect("an interrupted waiter takes no token", () =>
    withScheduler({ permits: 10, rate: { limit: 1, interval: 100 } }, (scheduler) =>
      Effect.gen(function*() {
        const startedAt: Array<string> = []
        const task = (name: string) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => startedAt.push(`${name}@${now}`)))
        const first = yield* fork(scheduler.submit(task("first")))
        const doomed = yield* fork(scheduler.submit(task("doomed")))
        yield* TestClock.adjust("50 millis")
        yield* Fiber.interrupt(doomed)
        const next = yield* fork(scheduler.submit(task("next")))
        yield* TestClock.adjust("50 millis")
        yield* Fiber.joinAll([first, next])
        assert.deepStrictEqual(startedAt, ["first@0", "next@100"])
      })))

  it.effect("permits still apply under a rate limit", () =>
    withScheduler({ permits: 1, rate: { limit: 100, interval: 100 } }, (scheduler) =>
      Effect.gen(function*() {
        let running = 0
        let peak = 0
        const task = Effect.gen(function*() {
          peak = Math.max(peak, ++running)
          yield* Effect.sleep("5 millis")
          running--
        })
        const fiber = yield* fork(Effect.forEach(Array.from({ length: 5 }), () => scheduler.submit(task), {
          concurrency: "unbounded",
          discard: true
        }))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(fiber)
        assert.strictEqual(peak, 1)
      })))
})

describe("Scheduler shutdown", () => {
  it.effect("closing the scope interrupts waiting submitters; running tasks finish; later submits are interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const scheduler = yield* make({ permits: 1, capacity: 1 }).pipe(
        Scope.provide(scope),
        Effect.provideService(Metric.MetricRegistry, new Map())
      )
      const gate = yield* Latch.make(false)
      const running = yield* fork(scheduler.submit(Effect.as(gate.await, "finished")))
      const queued = yield* fork(scheduler.submit(Effect.void))
      const suspended = yield* fork(scheduler.submit(Effect.void))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(queued)))
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(suspended)))
      const later = yield* Effect.exit(scheduler.submit(Effect.succeed("never")))
      assert.isTrue(Exit.hasInterrupts(later))
      const stats = yield* scheduler.stats
      assert.isTrue(stats.shutDown)
      assert.strictEqual(stats.queuedTotal + stats.waitingForCapacity, 0)
      yield* gate.open
      assert.strictEqual(yield* Fiber.join(running), "finished")
      assert.strictEqual((yield* scheduler.stats).running, 0)
    }))

  it.effect("closing the scope of a rate-limited scheduler stops its gate and frees its waiters", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const scheduler = yield* make({ permits: 1, rate: { limit: 1, interval: 1_000 } }).pipe(
        Scope.provide(scope),
        Effect.provideService(Metric.MetricRegistry, new Map())
      )
      const first = yield* fork(scheduler.submit(Effect.void))
      const second = yield* fork(scheduler.submit(Effect.void))
      yield* TestClock.adjust("0 millis")
      yield* Fiber.join(first)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(second)))
    }))
})

describe("Scheduler metrics", () => {
  it.effect("waiting for capacity and promotions by aging are counted", () =>
    Effect.gen(function*() {
      const registry = new Map()
      const read = <S>(metric: Metric.Metric<any, S>) =>
        Metric.value(metric).pipe(Effect.provideService(Metric.MetricRegistry, registry))
      const scheduler = yield* make({ permits: 1, capacity: 1, aging: 100 }).pipe(
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      const gate = yield* Latch.make(false)
      const blocker = yield* fork(scheduler.submit(gate.await))
      const queued = yield* fork(scheduler.submit(Effect.void, { priority: "low" }))
      const held = yield* fork(scheduler.submit(Effect.void, { priority: "low" }))
      assert.strictEqual((yield* read(metrics.waitingForCapacity)).value, 1)
      assert.strictEqual((yield* read(metrics.promoted)).count, 0)
      yield* TestClock.adjust("250 millis")
      // reading the stats ages the queue: the queued low task has waited two aging periods
      assert.strictEqual((yield* scheduler.stats).queued.high, 1)
      assert.isAtLeast((yield* read(metrics.promoted)).count, 1)
      yield* gate.open
      yield* Fiber.joinAll([blocker, queued, held])
      assert.strictEqual((yield* read(metrics.waitingForCapacity)).value, 0)
    }))

  it.effect("a submission after the scheduler's scope has closed is interrupted and never runs", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const scheduler = yield* make({ permits: 2 }).pipe(
        Scope.provide(scope),
        Effect.provideService(Metric.MetricRegistry, new Map())
      )
      yield* Scope.close(scope, Exit.void)
      let ran = false
      const exit = yield* Effect.exit(scheduler.submit(Effect.sync(() => (ran = true))))
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isFalse(ran)
      assert.isTrue((yield* scheduler.stats).shutDown)
    }))

  it.effect("queued per level, running, permits, admitted, rejected and wait times", () =>
    Effect.gen(function*() {
      // a clock away from 0, so that a wait is told from a time
      yield* TestClock.adjust("1 second")
      const registry = new Map()
      const scope = yield* Scope.make()
      const scheduler = yield* make({ permits: 1, capacity: 2, overflow: "fail" }).pipe(
        Scope.provide(scope),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      const read = <S>(metric: Metric.Metric<any, S>) =>
        Metric.value(metric).pipe(Effect.provideService(Metric.MetricRegistry, registry))
      const gate = yield* Latch.make(false)
      const blocker = yield* fork(scheduler.submit(gate.await))
      const high = yield* fork(scheduler.submit(Effect.void, { priority: "high" }))
      const low = yield* fork(scheduler.submit(Effect.void, { priority: "low" }))
      yield* Effect.flip(scheduler.submit(Effect.void))
      assert.strictEqual((yield* read(Metric.withAttributes(metrics.queued, { priority: "high" }))).value, 1)
      assert.strictEqual((yield* read(Metric.withAttributes(metrics.queued, { priority: "low" }))).value, 1)
      assert.strictEqual((yield* read(Metric.withAttributes(metrics.queued, { priority: "critical" }))).value, 0)
      assert.strictEqual((yield* read(metrics.running)).value, 1)
      assert.strictEqual((yield* read(metrics.permits)).value, 1)
      assert.strictEqual((yield* read(metrics.rejected)).count, 1)
      assert.strictEqual((yield* read(metrics.admitted)).count, 1)
      yield* TestClock.adjust("30 millis")
      yield* gate.open
      yield* Fiber.joinAll([blocker, high, low])
      assert.strictEqual((yield* read(metrics.admitted)).count, 3)
      assert.strictEqual((yield* read(metrics.running)).value, 0)
      const wait = yield* read(metrics.waitSeconds)
      assert.strictEqual(wait.count, 3)
      assert.strictEqual(wait.min, 0)
      assert.strictEqual(wait.max, 0.03)
      assert.strictEqual(wait.sum, 0.06)
      // cumulative buckets, in seconds: one wait of 0 s, two of 0.03 s (bucket ≤ 0.05)
      assert.deepStrictEqual(wait.buckets.find(([boundary]) => boundary === 0.0001), [0.0001, 1])
      assert.deepStrictEqual(wait.buckets.find(([boundary]) => boundary === 0.01), [0.01, 1])
      assert.deepStrictEqual(wait.buckets.find(([boundary]) => boundary === 0.05), [0.05, 3])
      assert.deepStrictEqual(wait.buckets.at(-1), [Infinity, 3])
      const names = (yield* Metric.snapshot.pipe(Effect.provideService(Metric.MetricRegistry, registry))).map((m) =>
        m.id
      )
      assert.includeMembers(names, [
        "orchestrator_scheduler_queued",
        "orchestrator_scheduler_waiting_for_capacity",
        "orchestrator_scheduler_running",
        "orchestrator_scheduler_permits",
        "orchestrator_scheduler_admitted_total",
        "orchestrator_scheduler_rejected_total",
        "orchestrator_scheduler_promoted_total",
        "orchestrator_scheduler_wait_seconds"
      ])
      yield* Scope.close(scope, Exit.void)
      // closed, the series stay with their final values, for an exporter's last flush
      const after = yield* Metric.snapshot.pipe(Effect.provideService(Metric.MetricRegistry, registry))
      assert.includeMembers(after.map((m) => m.id), names)
      assert.strictEqual((yield* read(metrics.admitted)).count, 3)
      assert.strictEqual((yield* read(metrics.permits)).value, 1)
    }))
})

describe("Scheduler layers", () => {
  it.effect("layer provides the service", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler.Scheduler
      assert.strictEqual(yield* scheduler.submit(Effect.succeed(1), { priority: "critical", key: "k" }), 1)
      assert.strictEqual((yield* scheduler.stats).permits, 3)
    }).pipe(
      Effect.provide(Scheduler.layer({ permits: 3 })),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.effect("layerTest runs one task at a time by default and makes a bad config a defect", () =>
    Effect.gen(function*() {
      const stats = yield* Scheduler.Scheduler.use((s) => s.stats).pipe(Effect.provide(Scheduler.layerTest()))
      assert.strictEqual(stats.permits, 1)
      const custom = yield* Scheduler.Scheduler.use((s) => s.stats).pipe(
        Effect.provide(Scheduler.layerTest({ permits: 5 }))
      )
      assert.strictEqual(custom.permits, 5)
      const bad = yield* Effect.exit(
        Scheduler.Scheduler.use((s) => s.stats).pipe(Effect.provide(Scheduler.layerTest({ permits: 0 })))
      )
      assert.isTrue(Exit.isFailure(bad) && Cause.hasDies(bad.cause))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
