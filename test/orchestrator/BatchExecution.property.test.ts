/**
 * Random batches through `runAll`'s runner, on a lane of random permits that single submissions share: tasks
 * that succeed or fail, at once or after a few yields, or never end; a random window and `failFast`; and
 * sometimes an interruption of the runner after a few yields. Checked:
 *
 * - the runner returns (within 5 s);
 * - never more tasks running than the lane's permits, nor in flight than the window;
 * - no task runs twice; a batch that is not stopped runs every task once and reports each one's own exit, in
 *   input order (never-ending tasks are drawn only when the runner is interrupted);
 * - with failFast, the batch fails with the error of a task that failed;
 * - a stopped batch (failFast or interrupted) leaves nothing running: every task that started has ended, its
 *   finalizer run, before the runner returns;
 * - the lane ends empty (nothing running, nothing queued), and the single submission beside the batch ran.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema } from "effect"
import * as fc from "fast-check"
import { Task } from "../../src/index.ts"
import type { TaskPriority } from "../../src/index.ts"
import * as Scheduler from "../../src/layers/Scheduler.ts"
import { executeAll } from "../../src/runtime/orchestrator/BatchExecution.ts"
import { laneOf } from "../../src/runtime/scheduler/SchedulerCore.ts"

class Failed extends Schema.TaggedError<Failed>()("Failed", { index: Schema.Number }) {}

type Kind = "ok" | "fail" | "never"
const levels: ReadonlyArray<TaskPriority.TaskPriority> = ["critical", "high", "normal", "low"]

const caseArb = fc.record({
  permits: fc.integer({ min: 1, max: 4 }),
  window: fc.integer({ min: 1, max: 8 }),
  failFast: fc.boolean(),
  interruptAfter: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
  tasks: fc.array(
    fc.record({
      kind: fc.constantFrom<Kind>("ok", "ok", "ok", "fail", "never"),
      yields: fc.integer({ min: 0, max: 3 }),
      priority: fc.integer({ min: 0, max: 3 })
    }),
    { minLength: 1, maxLength: 30 }
  )
})

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never

const yields = (n: number): Effect.Effect<void> => n <= 0 ? Effect.void : Effect.andThen(Effect.yieldNow, yields(n - 1))

const runCase = (c: Case) =>
  Effect.scoped(Effect.gen(function*() {
    const problems: Array<string> = []
    // never-ending tasks only where the runner is interrupted (with failFast alone they could hold every
    // permit before the failing task starts)
    const specs = c.interruptAfter !== undefined
      ? c.tasks
      : c.tasks.map((t) => t.kind === "never" ? { ...t, kind: "ok" as const } : t)
    const scheduler = yield* Scheduler.make({ permits: c.permits })
    const lane = laneOf(scheduler)!
    const starts = specs.map(() => 0)
    const ended = specs.map(() => false)
    let running = 0
    let peak = 0
    const tasks = specs.map((spec, index) =>
      Task.make(
        Effect.suspend(() => {
          starts[index]!++
          peak = Math.max(peak, ++running)
          const body = spec.kind === "never"
            ? Effect.never
            : Effect.andThen(
              yields(spec.yields),
              spec.kind === "fail" ? Effect.fail(new Failed({ index })) : Effect.succeed(index)
            )
          return Effect.ensuring(
            body,
            Effect.sync(() => {
              running--
              ended[index] = true
            })
          )
        }),
        { priority: levels[spec.priority]! }
      )
    )
    const single = yield* Effect.forkChild(scheduler.submit(Effect.succeed("alone"), { priority: "high" }))
    const fiber = yield* Effect.forkChild(
      executeAll(tasks, () => ({ admit: scheduler.submit, lane, span: true }), {
        concurrency: c.window,
        failFast: c.failFast
      }) as unknown as Effect.Effect<Array<{ readonly exit: Exit.Exit<unknown, unknown> }>, unknown>,
      { startImmediately: true }
    )
    if (c.interruptAfter !== undefined) {
      yield* yields(c.interruptAfter)
      yield* Fiber.interrupt(fiber)
    }
    const exit = yield* Fiber.await(fiber)
    if (Exit.isFailure(yield* Fiber.await(single))) problems.push("the single submission failed")
    if (peak > Math.min(c.permits, c.window)) problems.push(`peak ${peak} over permits/window`)
    starts.forEach((n, i) => n > 1 && problems.push(`task ${i} started ${n} times`))
    starts.forEach((n, i) => n === 1 && !ended[i] && problems.push(`task ${i} still running after the runner`))
    if (Exit.isSuccess(exit)) {
      exit.value.forEach((result, i) => {
        const spec = specs[i]!
        if (starts[i] !== 1) problems.push(`task ${i} of a finished batch ran ${starts[i]} times`)
        const ok = Exit.isSuccess(result.exit) && result.exit.value === i
        const failed = Exit.isFailure(result.exit) &&
          result.exit.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof Failed && r.error.index === i)
        if (spec.kind === "ok" ? !ok : !failed) problems.push(`task ${i} reported ${String(result.exit)}`)
      })
      if (exit.value.length !== specs.length) problems.push(`${exit.value.length} results for ${specs.length}`)
      if (c.failFast && specs.some((s) => s.kind === "fail")) problems.push("failFast batch did not fail")
    } else if (c.interruptAfter === undefined) {
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      if (!(c.failFast && error?._tag === "Fail" && error.error instanceof Failed)) {
        problems.push(`unexpected failure ${String(exit.cause)}`)
      } else if (specs[(error.error as Failed).index]?.kind !== "fail") {
        problems.push("failed with the error of a task that did not fail")
      }
    }
    const stats = yield* scheduler.stats
    if (stats.running !== 0 || stats.queuedTotal !== 0) {
      problems.push(`lane left with ${stats.running} running, ${stats.queuedTotal} queued`)
    }
    return problems
  }))

describe("BatchExecution, random batches", () => {
  it("random outcomes, windows, failFast and interruptions: nothing run twice, nothing left running", () =>
    fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const problems = await Effect.runPromise(
          runCase(c).pipe(Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed(["hung"]) }))
        )
        assert.deepStrictEqual(problems, [])
      }),
      { numRuns: 200 }
    ))
})
