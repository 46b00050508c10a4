/**
 * Random lives of a background pool under the TestClock: submissions (random priority and duration), cancels
 * by handle, clock advances, then a shutdown (drain with a random deadline, or at once). Checked:
 *
 * - never more than `consumers` tasks running at once;
 * - no task runs twice, and a task cancelled while queued never runs;
 * - nothing is lost: every handle resolves, with the task's value or a typed `TaskCancelled`, and a task that
 *   finished its work reports success;
 * - a drain that had time enough for everything cancels nothing;
 * - the pool ends empty and its counts add up.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Task, TaskPriority } from "../../src/index.ts"
import * as BackgroundQueue from "../../src/runtime/orchestrator/BackgroundQueue.ts"
import { execute } from "../../src/runtime/orchestrator/TaskExecution.ts"
import type { ExecutionError } from "../../src/runtime/orchestrator/TaskExecution.ts"

type Op =
  | { readonly _tag: "submit"; readonly priority: number; readonly duration: number }
  | { readonly _tag: "cancel"; readonly target: number }
  | { readonly _tag: "advance"; readonly millis: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("submit" as const),
      priority: fc.integer({ min: 0, max: 3 }),
      duration: fc.integer({ min: 0, max: 50 })
    })
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("cancel" as const), target: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 40 }) })
  }
)

const caseArb = fc.record({
  consumers: fc.integer({ min: 1, max: 4 }),
  ops: fc.array(opArb, { maxLength: 60 }),
  shutdown: fc.oneof(
    fc.record({ mode: fc.constant("drain" as const), deadline: fc.integer({ min: 0, max: 3_000 }) }),
    fc.constant({ mode: "now" as const })
  )
})

interface Model {
  readonly id: number
  readonly duration: number
  starts: number
  finished: boolean
  cancelledQueued: boolean
}

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never

const runCase = (c: Case) =>
  Effect.gen(function*() {
    const violations: Array<string> = []
    const pool = yield* BackgroundQueue.make<ExecutionError>({
      consumers: c.consumers,
      execute: (task) => execute(task)
    })
    const models: Array<Model> = []
    const handles: Array<BackgroundQueue.TaskHandle<number, ExecutionError>> = []
    let running = 0
    let totalWork = 0
    for (const op of c.ops) {
      switch (op._tag) {
        case "submit": {
          const model: Model = {
            id: models.length,
            duration: op.duration,
            starts: 0,
            finished: false,
            cancelledQueued: false
          }
          models.push(model)
          totalWork += op.duration
          const body = Effect.gen(function*() {
            model.starts++
            running++
            if (running > c.consumers) violations.push(`${running} running with ${c.consumers} consumers`)
            yield* Effect.sleep(`${model.duration} millis`).pipe(Effect.ensuring(Effect.sync(() => running--)))
            model.finished = true
            return model.id
          })
          handles.push(
            yield* pool.submit(Task.make(body, { priority: TaskPriority.fromRank(op.priority as 0 | 1 | 2 | 3) }))
          )
          break
        }
        case "cancel": {
          if (handles.length === 0) break
          const i = op.target % handles.length
          if ((yield* handles[i]!.status) === "queued") models[i]!.cancelledQueued = true
          yield* handles[i]!.cancel
          break
        }
        case "advance":
          yield* TestClock.adjust(`${op.millis} millis`)
          break
      }
      yield* Effect.yieldNow
    }
    const shutdown = yield* Effect.forkChild(pool.shutdown(c.shutdown))
    yield* TestClock.adjust("1 hour")
    yield* Fiber.join(shutdown)

    const generous = c.shutdown.mode === "drain" && c.shutdown.deadline >= totalWork
    for (const [i, handle] of handles.entries()) {
      const model = models[i]!
      // Once shutdown has returned, every handle must already hold its result: poll, never wait.
      const polled = yield* handle.poll
      if (polled._tag === "None") {
        violations.push(`task ${i} was lost: its handle never resolved`)
        continue
      }
      const result = polled.value
      if (model.starts > 1) violations.push(`task ${i} ran ${model.starts} times`)
      if (model.cancelledQueued && model.starts > 0) {
        violations.push(`task ${i} ran after it was cancelled in the queue`)
      }
      if (Exit.isSuccess(result.exit)) {
        if (result.exit.value !== i || !model.finished) violations.push(`task ${i} succeeded wrongly`)
      } else {
        const reason = result.exit.cause.reasons[0]
        const tag = reason?._tag === "Fail" ? (reason.error as { _tag: string })._tag : reason?._tag
        if (tag !== "TaskCancelled") violations.push(`task ${i} ended with ${tag}, not a typed cancellation`)
        if (model.finished) violations.push(`task ${i} finished its work but reports a cancellation`)
        if (generous && !model.cancelledQueued && model.starts === 0) {
          violations.push(`task ${i} was cancelled by a drain that had time for everything`)
        }
      }
    }
    const stats = yield* pool.stats
    if (stats.queued !== 0 || stats.running !== 0 || stats.accepting) {
      violations.push(`not stopped: ${JSON.stringify(stats)}`)
    }
    if (stats.completed + stats.cancelled !== handles.length) violations.push(`counts: ${JSON.stringify(stats)}`)
    return violations
  }).pipe(Effect.scoped, Effect.provide(TestClock.layer()))

describe("BackgroundQueue properties", () => {
  it("random submissions, cancellations and shutdowns: nothing lost, nothing run twice, consumers bound", () =>
    fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        assert.deepStrictEqual(await Effect.runPromise(runCase(c)), [])
      }),
      { numRuns: 150 }
    ))
})
