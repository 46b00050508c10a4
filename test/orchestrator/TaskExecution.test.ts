import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { QueueFull, Task } from "../../src/index.ts"
import type { Admit } from "../../src/runtime/orchestrator/TaskExecution.ts"
import { execute } from "../../src/runtime/orchestrator/TaskExecution.ts"

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { n: Schema.Number }) {}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

describe("TaskExecution.execute", () => {
  it.effect("a success carries its timings, attempts and metadata", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 second")
      const task = Task.make(Effect.as(Effect.sleep("250 millis"), 42), {
        name: "answer",
        priority: "high",
        kind: "cpu"
      })
      const fiber = yield* Effect.forkChild(execute(task))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.exit, Exit.succeed(42))
      assert.strictEqual(result.name, "answer")
      assert.strictEqual(result.priority, "high")
      assert.strictEqual(result.kind, "cpu")
      assert.strictEqual(result.enqueuedAt, 1_000)
      assert.strictEqual(result.runMillis, 250)
      assert.strictEqual(result.attempts, 1)
    }))

  it.effect("queue wait is the time spent in admission", () =>
    Effect.gen(function*() {
      const slowAdmit: Admit = (effect) => Effect.andThen(Effect.sleep("400 millis"), effect)
      const fiber = yield* Effect.forkChild(execute(Task.make(Effect.succeed(1)), { admit: slowAdmit }))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.queueWaitMillis, 400)
      assert.strictEqual(result.runMillis, 0)
    }))

  it.effect("a failure is a result, not an error of the execution", () =>
    Effect.gen(function*() {
      const result = yield* execute(Task.make(Effect.fail(new Flaky({ n: 1 }))))
      assert.instanceOf(failureOf(result.exit), Flaky)
      assert.strictEqual(result.attempts, 1)
    }))

  it.effect("the retry policy retries and counts attempts", () =>
    Effect.gen(function*() {
      let calls = 0
      const effect = Effect.suspend(() => ++calls < 3 ? Effect.fail(new Flaky({ n: calls })) : Effect.succeed(calls))
      const fiber = yield* Effect.forkChild(
        execute(Task.make(effect, { retry: { initialInterval: 100, jitter: 0, maximumAttempts: 5 } }))
      )
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.exit, Exit.succeed(3))
      assert.strictEqual(result.attempts, 3)
      assert.strictEqual(result.runMillis, 300)
    }))

  it.effect("the default retry applies to tasks that name none", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        execute(Task.make(Effect.fail("down")), { defaultRetry: { maximumAttempts: 2, initialInterval: 10 } })
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 2)
    }))

  it.effect("the task timeout fails each attempt with TaskTimeout", () =>
    Effect.gen(function*() {
      const task = Task.make(Effect.never, { name: "stuck", timeout: "50 millis" })
      const fiber = yield* Effect.forkChild(execute(task))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      const error = failureOf(result.exit)
      assert.strictEqual(error._tag, "TaskTimeout")
      assert.strictEqual(error._tag === "TaskTimeout" && error.timeoutMillis, 50)
      assert.strictEqual(error._tag === "TaskTimeout" && error.taskName, "stuck")
    }))

  it.effect("a timed-out attempt is retried when the policy allows it", () =>
    Effect.gen(function*() {
      let calls = 0
      const effect = Effect.suspend(() => ++calls === 1 ? Effect.never : Effect.succeed("second try"))
      const task = Task.make(effect, { timeout: "50 millis", retry: { maximumAttempts: 2, initialInterval: 10 } })
      const fiber = yield* Effect.forkChild(execute(task))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.exit, Exit.succeed("second try"))
      assert.strictEqual(result.attempts, 2)
    }))

  it.effect("a bad timeout or retry policy is an InvalidConfig naming the field, and nothing runs", () =>
    Effect.gen(function*() {
      let ran = false
      const effect = Effect.sync(() => {
        ran = true
      })
      for (
        const [options, field] of [
          [{ timeout: "-5 millis" }, "task.timeout"],
          [{ timeout: 0 }, "task.timeout"],
          [{ retry: { maximumAttempts: 0 } }, "retry.maximumAttempts"],
          [{ retry: { backoffCoefficient: 0.5 } }, "retry.backoffCoefficient"]
        ] as const
      ) {
        const error = failureOf((yield* execute(Task.make(effect, options))).exit)
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error._tag === "InvalidConfig" && error.field, field)
      }
      assert.isFalse(ran)
    }))

  it.effect("an admission rejection is the result, with no attempt", () =>
    Effect.gen(function*() {
      const reject: Admit = () => Effect.fail(new QueueFull({ capacity: 1, priority: "low" }))
      const result = yield* execute(Task.make(Effect.succeed(1), { priority: "low" }), { admit: reject })
      assert.instanceOf(failureOf(result.exit), QueueFull)
      assert.strictEqual(result.attempts, 0)
    }))

  it.effect("interrupting the caller interrupts the running task", () =>
    Effect.gen(function*() {
      let interrupted = false
      const task = Task.make(Effect.onInterrupt(Effect.never, () =>
        Effect.sync(() => {
          interrupted = true
        })))
      const fiber = yield* Effect.forkChild(execute(task))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(interrupted)
    }))
})
