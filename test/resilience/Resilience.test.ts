import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Metric, Schema } from "effect"
import { TestClock } from "effect/testing"
import { CircuitOpen, InvalidConfig, TaskTimeout } from "../../src/domain/OrchestratorError.ts"
import * as CircuitBreakers from "../../src/layers/CircuitBreakers.ts"
import * as Resilience from "../../src/layers/Resilience.ts"
import * as Fallback from "../../src/runtime/resilience/Fallback.ts"

class Down extends Schema.TaggedError<Down>()("Down", { attempt: Schema.Number }) {}
class Other extends Schema.TaggedError<Other>()("Other", {}) {}

const provideBreakers = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(
    Effect.provide(CircuitBreakers.layer({ policy: { consecutiveFailures: 1, openDuration: 1_000 } })),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )

/** A dependency that fails its first `failures` calls, recording when each call starts. */
const dependency = (failures: number) => {
  const startedAt: Array<number> = []
  const call = Effect.gen(function*() {
    startedAt.push(yield* Clock.currentTimeMillis)
    if (startedAt.length <= failures) return yield* new Down({ attempt: startedAt.length })
    return `ok@${startedAt.length}`
  })
  return { call, startedAt }
}

describe("Fallback", () => {
  it.effect("a value replaces any typed failure", () =>
    Effect.gen(function*() {
      const result: string | number = yield* Effect.fail(new Down({ attempt: 1 })).pipe(
        Fallback.withFallback({ value: 0 })
      )
      assert.strictEqual(result, 0)
      assert.strictEqual(yield* Effect.succeed(5).pipe(Fallback.withFallback({ value: 0 })), 5)
    }))

  it.effect("an effect computes the fallback from the failure", () =>
    Effect.gen(function*() {
      const result = yield* Effect.fail(new Down({ attempt: 7 })).pipe(
        Fallback.withFallback({ effect: (e) => Effect.succeed(`after ${e.attempt}`) })
      )
      assert.strictEqual(result, "after 7")
      const failed = yield* Effect.fail(new Down({ attempt: 1 })).pipe(
        Fallback.withFallback({ effect: () => Effect.fail(new Other()) }),
        Effect.flip
      )
      assert.instanceOf(failed, Other)
    }))

  it.effect("defects and interruptions are not replaced", () =>
    Effect.gen(function*() {
      const died = yield* Effect.die("bug").pipe(Fallback.withFallback({ value: 0 }), Effect.exit)
      assert.isTrue(Exit.isFailure(died) && died.cause.reasons[0]?._tag === "Die")
      const interrupted = yield* Effect.interrupt.pipe(Fallback.withFallback({ value: 0 }), Effect.exit)
      assert.isTrue(Exit.isFailure(interrupted) && interrupted.cause.reasons[0]?._tag === "Interrupt")
    }))

  it.effect("onCircuitOpen replaces only circuit rejections", () =>
    Effect.gen(function*() {
      const open = yield* Effect.fail(new CircuitOpen({ key: "k", retryAfterMillis: 10 })).pipe(
        Fallback.onCircuitOpen({ effect: (e) => Effect.succeed(`retry in ${e.retryAfterMillis}`) })
      )
      assert.strictEqual(open, "retry in 10")
      const other = yield* Effect.fail(new Down({ attempt: 1 })).pipe(Fallback.onCircuitOpen({ value: 0 }), Effect.flip)
      assert.instanceOf(other, Down)
    }))
})

describe("Resilience.apply", () => {
  it.effect("retries run inside the breaker: a call rescued by a retry is one success", () =>
    Effect.gen(function*() {
      const dep = dependency(2)
      const fiber = yield* dep.call.pipe(
        Resilience.apply({ retry: { maximumAttempts: 3, jitter: 0 }, breaker: { key: "dep" } }),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok@3")
      assert.deepStrictEqual(dep.startedAt, [0, 100, 300])
      // consecutiveFailures is 1: had the breaker seen each failed attempt, it would be open.
      const breakers = yield* CircuitBreakers.CircuitBreakers
      assert.strictEqual((yield* breakers.state("dep"))._tag, "Closed")
    }).pipe(provideBreakers))

  it.effect("spent retries are one failure; then the open circuit rejects fast and the fallback answers", () =>
    Effect.gen(function*() {
      const dep = dependency(Infinity)
      const policy = {
        retry: { maximumAttempts: 3, jitter: 0 },
        breaker: { key: "dep" },
        fallback: { effect: (e: unknown) => Effect.succeed(e instanceof CircuitOpen ? "open" : "failed") }
      } as const
      const first = yield* dep.call.pipe(Resilience.apply(policy), Effect.forkChild)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(first), "failed")
      assert.strictEqual(dep.startedAt.length, 3)

      const breakers = yield* CircuitBreakers.CircuitBreakers
      assert.strictEqual((yield* breakers.state("dep"))._tag, "Open")
      // Rejected without running and without retrying the rejection.
      assert.strictEqual(yield* dep.call.pipe(Resilience.apply(policy)), "open")
      assert.strictEqual(dep.startedAt.length, 3)
    }).pipe(provideBreakers))

  it.effect("without a fallback, the rejection is a typed CircuitOpen with the time to wait", () =>
    Effect.gen(function*() {
      const dep = dependency(Infinity)
      const apply = Resilience.apply({ breaker: { key: "dep" } })
      assert.instanceOf(yield* Effect.flip(apply(dep.call)), Down)
      yield* TestClock.adjust("300 millis")
      assert.deepStrictEqual(
        yield* Effect.flip(apply(dep.call)),
        new CircuitOpen({ key: "dep", retryAfterMillis: 700 })
      )
    }).pipe(provideBreakers))

  it.effect("a per-attempt timeout inside the breaker counts as a failure and opens it", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.never.pipe(
        Resilience.apply({
          retry: { maximumAttempts: 2, jitter: 0, attemptTimeout: 50 },
          breaker: { key: "slow" }
        }),
        Effect.flip,
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, TaskTimeout)
      const breakers = yield* CircuitBreakers.CircuitBreakers
      assert.strictEqual((yield* breakers.state("slow"))._tag, "Open")
    }).pipe(provideBreakers))

  it.effect("a bad policy fails with InvalidConfig before the task runs, even with a fallback", () =>
    Effect.gen(function*() {
      const dep = dependency(0)
      const error = yield* dep.call.pipe(
        Resilience.apply({ retry: { backoffCoefficient: 0 }, fallback: { value: "fallback" } }),
        Effect.flip
      )
      assert.instanceOf(error, InvalidConfig)
      assert.strictEqual(error.field, "retry.backoffCoefficient")
      assert.deepStrictEqual(dep.startedAt, [])
    }))

  it.effect("with no breaker it needs no CircuitBreakers service", () =>
    Effect.gen(function*() {
      const dep = dependency(1)
      const fiber = yield* dep.call.pipe(
        Resilience.apply({ retry: { maximumAttempts: 2, jitter: 0 }, fallback: { value: "fallback" } }),
        Effect.forkChild
      )
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok@2")
    }))
})
