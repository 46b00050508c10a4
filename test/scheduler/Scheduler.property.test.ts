/**
 * Random schedules against a model. Each case builds a scheduler under the TestClock and plays a random list of
 * operations: submissions (random priority, key and duration), cancellations of waiting or running tasks,
 * clock advances (tasks sleep, waiters age) and resizes. A model follows every task and checks, at each start:
 *
 * - never more than `permits` running, never more than `perKeyLimit` of one key;
 * - no task runs twice, and no task cancelled while waiting ever runs;
 * - admission order: no waiting task that may run (its key below its limit) is at a more urgent level than the
 *   one admitted, and within a key and level the earliest goes first, where levels and arrival times follow
 *   aging exactly (a task submitted at `s` with priority `p` is at level `max(0, p − ⌊(now − s)/aging⌋)`, which
 *   it reached at `s + (p − level) × aging`). Checked when no capacity is set (with one, tasks enter the queue
 *   later than they were submitted);
 * - a task that found a free permit started only if no task that may run was waiting;
 * - `overflow: "fail"` rejects exactly when the queue is full.
 *
 * After the schedule the clock runs until everything settles: every task not cancelled or rejected must have
 * run exactly once and succeeded (no task lost, every waiter admitted), and the scheduler must be empty with
 * `admitted` equal to the number of starts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { SchedulerConfigInput } from "../../src/domain/Config.ts"
import { levels } from "../../src/domain/TaskPriority.ts"
import { make } from "../../src/layers/Scheduler.ts"

type Op =
  | { readonly _tag: "submit"; readonly priority: number; readonly key: number; readonly duration: number }
  | { readonly _tag: "cancel"; readonly target: number }
  | { readonly _tag: "advance"; readonly millis: number }
  | { readonly _tag: "resize"; readonly permits: number }

interface Case {
  readonly permits: number
  readonly agingMillis: number
  readonly perKeyLimit: number | undefined
  readonly capacity: number | undefined
  readonly overflow: "suspend" | "fail"
  readonly rate: { readonly limit: number; readonly interval: number } | undefined
  readonly ops: ReadonlyArray<Op>
}

interface TaskModel {
  readonly id: number
  readonly priority: number
  readonly key: string | undefined
  readonly submittedAt: number
  readonly duration: number
  state: "new" | "waiting" | "running" | "done" | "cancelled" | "rejected"
  cancelledWhileWaiting: boolean
  starts: number
  fiber: Fiber.Fiber<void, unknown> | undefined
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("submit" as const),
      priority: fc.integer({ min: 0, max: 3 }),
      key: fc.integer({ min: -1, max: 2 }),
      duration: fc.integer({ min: 1, max: 20 })
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("cancel" as const), target: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 25 }) })
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("resize" as const), permits: fc.integer({ min: 1, max: 4 }) }) }
)

const caseArb = (withCapacity: boolean, withRate: boolean): fc.Arbitrary<Case> =>
  fc.record({
    permits: fc.integer({ min: 1, max: 4 }),
    agingMillis: fc.integer({ min: 5, max: 60 }),
    perKeyLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    capacity: withCapacity ? fc.integer({ min: 1, max: 5 }) : fc.constant(undefined),
    overflow: fc.constantFrom("suspend" as const, "fail" as const),
    rate: withRate
      ? fc.record({ limit: fc.integer({ min: 1, max: 3 }), interval: fc.integer({ min: 5, max: 30 }) })
      : fc.constant(undefined),
    ops: fc.array(opArb, { minLength: 20, maxLength: 80, size: "max" })
  })

const runCase = (c: Case) =>
  Effect.gen(function*() {
    const config: SchedulerConfigInput = {
      permits: c.permits,
      aging: c.agingMillis,
      overflow: c.overflow,
      ...(c.perKeyLimit === undefined ? {} : { perKeyLimit: c.perKeyLimit }),
      ...(c.capacity === undefined ? {} : { capacity: c.capacity }),
      ...(c.rate === undefined ? {} : { rate: c.rate })
    }
    const scheduler = yield* make(config)
    const violations: Array<string> = []
    const tasks: Array<TaskModel> = []
    let permits = c.permits
    let running = 0
    const keyRunning = new Map<string | undefined, number>()
    const limit = c.perKeyLimit ?? Infinity
    const checkOrder = c.capacity === undefined

    const level = (t: TaskModel, now: number) =>
      Math.max(0, t.priority - Math.floor((now - t.submittedAt) / c.agingMillis))
    // (time it reached its level, submission time, sequence): the order within a level
    const before = (x: TaskModel, y: TaskModel, now: number) => {
      const ax = x.submittedAt + (x.priority - level(x, now)) * c.agingMillis
      const ay = y.submittedAt + (y.priority - level(y, now)) * c.agingMillis
      if (ax !== ay) return ax < ay
      if (x.submittedAt !== y.submittedAt) return x.submittedAt < y.submittedAt
      return x.id < y.id
    }
    const mayRun = (t: TaskModel) => t.key === undefined || (keyRunning.get(t.key) ?? 0) < limit

    const onStart = (t: TaskModel, now: number) => {
      t.starts++
      if (t.starts > 1) violations.push(`task ${t.id} ran twice`)
      if (t.cancelledWhileWaiting) violations.push(`task ${t.id} ran after it was cancelled while waiting`)
      if (checkOrder) {
        for (const other of tasks) {
          if (other === t || other.state !== "waiting" || !mayRun(other)) continue
          if (t.state === "new") {
            violations.push(`task ${t.id} took a free permit while task ${other.id} could run and was waiting`)
          } else if (level(other, now) < level(t, now)) {
            violations.push(
              `at ${now}: task ${t.id} (level ${level(t, now)}) admitted before ${other.id} (level ${
                level(other, now)
              })`
            )
          } else if (other.key === t.key && level(other, now) === level(t, now) && before(other, t, now)) {
            violations.push(`at ${now}: task ${t.id} overtook ${other.id} of the same key and level`)
          }
        }
      }
      running++
      keyRunning.set(t.key, (keyRunning.get(t.key) ?? 0) + 1)
      if (running > permits) violations.push(`${running} running with ${permits} permits`)
      if (t.key !== undefined && keyRunning.get(t.key)! > limit) {
        violations.push(`${keyRunning.get(t.key)} running for key ${t.key} with limit ${limit}`)
      }
      if (t.state !== "cancelled") t.state = "running"
    }
    const onEnd = (t: TaskModel) => {
      running--
      keyRunning.set(t.key, keyRunning.get(t.key)! - 1)
      if (t.state === "running") t.state = "done"
    }
    const task = (t: TaskModel) =>
      Effect.clockWith((clock) => Effect.sync(() => onStart(t, clock.currentTimeMillisUnsafe()))).pipe(
        Effect.andThen(Effect.sleep(t.duration)),
        Effect.onExit(() => Effect.sync(() => onEnd(t)))
      )

    for (const op of c.ops) {
      switch (op._tag) {
        case "submit": {
          const waiting = tasks.filter((t) => t.state === "waiting").length
          const t: TaskModel = {
            id: tasks.length,
            priority: op.priority,
            key: op.key < 0 ? undefined : `k${op.key}`,
            submittedAt: yield* Clock.currentTimeMillis,
            duration: op.duration,
            state: "new",
            cancelledWhileWaiting: false,
            starts: 0,
            fiber: undefined
          }
          tasks.push(t)
          t.fiber = yield* Effect.forkChild(
            scheduler.submit(task(t), {
              priority: levels[op.priority]!,
              ...(t.key === undefined ? {} : { key: t.key })
            }),
            { startImmediately: true }
          )
          if (t.state === "new") {
            const exit = t.fiber.pollUnsafe()
            if (exit !== undefined && Exit.isFailure(exit)) {
              t.state = "rejected"
              if (c.overflow !== "fail" || c.capacity === undefined) violations.push(`task ${t.id} rejected`)
              else if (waiting < c.capacity) violations.push(`task ${t.id} rejected with ${waiting} queued`)
            } else {
              t.state = "waiting"
              if (c.overflow === "fail" && c.capacity !== undefined && waiting >= c.capacity) {
                violations.push(`task ${t.id} queued beyond capacity ${c.capacity}`)
              }
            }
          }
          break
        }
        case "cancel": {
          const live = tasks.filter((t) => t.state === "waiting" || t.state === "running")
          if (live.length === 0) break
          const victim = live[op.target % live.length]!
          if (victim.state === "waiting") victim.cancelledWhileWaiting = true
          victim.state = "cancelled"
          yield* Fiber.interrupt(victim.fiber!)
          break
        }
        case "advance": {
          yield* TestClock.adjust(op.millis)
          break
        }
        case "resize": {
          permits = op.permits
          yield* scheduler.resize(op.permits)
          break
        }
      }
      const stats = yield* scheduler.stats
      if (stats.running !== running) violations.push(`scheduler counts ${stats.running} running, model ${running}`)
      if (c.capacity !== undefined && stats.queuedTotal > c.capacity) {
        violations.push(`${stats.queuedTotal} queued with capacity ${c.capacity}`)
      }
      if (stats.waitingForCapacity > 0 && stats.queuedTotal !== c.capacity) {
        violations.push(`${stats.waitingForCapacity} suspended while the queue has room`)
      }
    }

    // let everything settle: every waiter must be admitted eventually
    for (let i = 0; i < 400 && tasks.some((t) => t.fiber!.pollUnsafe() === undefined); i++) {
      yield* TestClock.adjust(25)
    }
    for (const t of tasks) {
      const exit = t.fiber!.pollUnsafe()
      if (exit === undefined) {
        violations.push(`task ${t.id} (${t.state}) never finished`)
      } else if (t.state === "done") {
        if (t.starts !== 1 || !Exit.isSuccess(exit)) violations.push(`task ${t.id} done with ${t.starts} starts`)
      } else if (t.state === "rejected") {
        if (t.starts !== 0) violations.push(`rejected task ${t.id} ran`)
      } else if (t.state === "cancelled") {
        if (!Exit.hasInterrupts(exit)) violations.push(`cancelled task ${t.id} was not interrupted`)
      } else {
        violations.push(`task ${t.id} ended in state ${t.state}`)
      }
    }
    const stats = yield* scheduler.stats
    const starts = tasks.reduce((n, t) => n + t.starts, 0)
    if (stats.admitted !== starts) violations.push(`admitted ${stats.admitted}, started ${starts}`)
    if (stats.rejected !== tasks.filter((t) => t.state === "rejected").length) violations.push("rejected count")
    if (stats.running !== 0 || stats.queuedTotal !== 0 || stats.waitingForCapacity !== 0) {
      violations.push(`not empty at the end: ${JSON.stringify(stats)}`)
    }
    return violations
  }).pipe(
    Effect.scoped,
    Effect.provide(TestClock.layer()),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )

const check = (withCapacity: boolean, withRate: boolean, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(caseArb(withCapacity, withRate), async (c) => {
      const violations = await Effect.runPromise(runCase(c))
      assert.deepStrictEqual(violations, [])
    }),
    { numRuns }
  )

describe("Scheduler properties (random schedules with cancellations)", () => {
  it("limits, priority then FIFO with aging, no loss, no double run, every waiter admitted", () =>
    check(false, false, 150))

  it("the same with a bounded queue, suspending or rejecting", () => check(true, false, 150))

  it("the same under a rate limit, with and without a bounded queue", async () => {
    await check(false, true, 75)
    await check(true, true, 75)
  })
})
