import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Schema, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import { CircuitOpen, InvalidConfig } from "../../src/domain/OrchestratorError.ts"
import * as CircuitBreakers from "../../src/layers/CircuitBreakers.ts"
import { stateGauge, transitionsTotal } from "../../src/layers/CircuitBreakers.ts"
import type { CircuitBreakersConfig, Transition } from "../../src/layers/CircuitBreakers.ts"

class Down extends Schema.TaggedError<Down>()("Down", {}) {}
class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {}) {}

/** Runs a test against a fresh service and a fresh metric registry; collects its transitions. */
const withBreakers = <A, E>(
  config: CircuitBreakersConfig,
  body: (tools: {
    readonly breakers: CircuitBreakers.CircuitBreakers["Service"]
    readonly transitions: Array<Transition>
    /** Lets the transitions collector and the metrics catch up. */
    readonly settle: Effect.Effect<void>
  }) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const breakers = yield* CircuitBreakers.CircuitBreakers
    const transitions: Array<Transition> = []
    yield* Stream.runForEach(breakers.transitions, (t) => Effect.sync(() => transitions.push(t))).pipe(
      Effect.forkScoped({ startImmediately: true })
    )
    const settle = Effect.repeat(Effect.yieldNow, { times: 10 })
    return yield* body({ breakers, transitions, settle })
  }).pipe(Effect.provide(CircuitBreakers.layer(config)), Effect.provideService(Metric.MetricRegistry, new Map()))

const counter = () => {
  let runs = 0
  return {
    runs: () => runs,
    failing: Effect.suspend(() => {
      runs++
      return Effect.fail(new Down())
    }),
    succeeding: Effect.sync(() => {
      runs++
      return "ok"
    })
  }
}

const edges = (transitions: ReadonlyArray<Transition>) => transitions.map((t) => `${t.key}:${t.from}->${t.to}`)

const transitionCount = (key: string, from: string, to: string) =>
  Effect.map(Metric.value(Metric.withAttributes(transitionsTotal, { key, from, to })), (s) => s.count)

const gaugeOf = (key: string) => Effect.map(Metric.value(Metric.withAttributes(stateGauge, { key })), (s) => s.value)

describe("CircuitBreakers", () => {
  it.effect("Closed → Open → HalfOpen → Closed, with typed rejections carrying the time left", () =>
    withBreakers(
      { policy: { consecutiveFailures: 2, openDuration: 1_000 } },
      ({ breakers, settle, transitions }) =>
        Effect.gen(function*() {
          const api = counter()
          const call = (eff: Effect.Effect<string, Down>) => eff.pipe(breakers.execute("api"))

          assert.deepStrictEqual(yield* Effect.flip(call(api.failing)), new Down())
          assert.deepStrictEqual(yield* breakers.state("api"), { _tag: "Closed", key: "api" })
          assert.deepStrictEqual(yield* Effect.flip(call(api.failing)), new Down())
          assert.deepStrictEqual(yield* breakers.state("api"), {
            _tag: "Open",
            key: "api",
            retryAfterMillis: 1_000,
            consecutiveOpenings: 1
          })

          assert.strictEqual(yield* gaugeOf("api"), 2)

          // Rejected without running, with the time left.
          const rejected = yield* Effect.flip(call(api.succeeding))
          assert.instanceOf(rejected, CircuitOpen)
          assert.deepStrictEqual(rejected, new CircuitOpen({ key: "api", retryAfterMillis: 1_000 }))
          yield* TestClock.adjust("400 millis")
          assert.deepStrictEqual(
            yield* Effect.flip(call(api.succeeding)),
            new CircuitOpen({ key: "api", retryAfterMillis: 600 })
          )
          yield* TestClock.adjust("599 millis")
          assert.deepStrictEqual(
            yield* Effect.flip(call(api.succeeding)),
            new CircuitOpen({ key: "api", retryAfterMillis: 1 })
          )
          assert.strictEqual(api.runs(), 2)

          // Open time over: the next call is the probe; its success closes the circuit.
          yield* TestClock.adjust("1 millis")
          assert.strictEqual(yield* call(api.succeeding), "ok")
          assert.strictEqual(api.runs(), 3)
          assert.deepStrictEqual(yield* breakers.state("api"), { _tag: "Closed", key: "api" })

          // Counted before the calls returned, with no need to wait for a background fiber.
          assert.strictEqual(yield* transitionCount("api", "Closed", "Open"), 1)
          assert.strictEqual(yield* transitionCount("api", "Open", "HalfOpen"), 1)
          assert.strictEqual(yield* transitionCount("api", "HalfOpen", "Closed"), 1)
          assert.strictEqual(yield* transitionCount("api", "HalfOpen", "Open"), 0)
          assert.strictEqual(yield* gaugeOf("api"), 0)

          yield* settle
          assert.deepStrictEqual(edges(transitions), ["api:Closed->Open", "api:Open->HalfOpen", "api:HalfOpen->Closed"])
          assert.deepStrictEqual(transitions[0], {
            key: "api",
            from: "Closed",
            to: "Open",
            retryAfterMillis: 1_000,
            consecutiveOpenings: 1
          })
        })
    ))

  it.effect("HalfOpen → Open on a failed probe, for a longer open duration when it backs off", () =>
    withBreakers(
      {
        policy: {
          consecutiveFailures: 1,
          openDuration: 100,
          openBackoffCoefficient: 2,
          maximumOpenDuration: 300
        }
      },
      ({ breakers, settle, transitions }) =>
        Effect.gen(function*() {
          const api = counter()
          const call = (eff: Effect.Effect<string, Down>) => eff.pipe(breakers.execute("db"))
          const openFor = Effect.map(breakers.state("db"), (s) => s._tag === "Open" ? s.retryAfterMillis : -1)

          yield* Effect.flip(call(api.failing))
          assert.strictEqual(yield* openFor, 100)
          yield* TestClock.adjust("100 millis")
          yield* Effect.flip(call(api.failing)) // failed probe
          assert.strictEqual(yield* openFor, 200)
          yield* settle
          assert.strictEqual(yield* gaugeOf("db"), 2)
          yield* TestClock.adjust("200 millis")
          yield* Effect.flip(call(api.failing))
          assert.strictEqual(yield* openFor, 300)
          yield* TestClock.adjust("300 millis")
          yield* Effect.flip(call(api.failing))
          assert.strictEqual(yield* openFor, 300) // capped
          assert.strictEqual(api.runs(), 4)

          yield* settle
          assert.deepStrictEqual(edges(transitions), [
            "db:Closed->Open",
            "db:Open->HalfOpen",
            "db:HalfOpen->Open",
            "db:Open->HalfOpen",
            "db:HalfOpen->Open",
            "db:Open->HalfOpen",
            "db:HalfOpen->Open"
          ])
          assert.deepStrictEqual(
            transitions.flatMap((t) => t.to === "Open" ? [[t.retryAfterMillis, t.consecutiveOpenings]] : []),
            [[100, 1], [200, 2], [300, 3], [300, 4]]
          )
          assert.strictEqual(yield* transitionCount("db", "HalfOpen", "Open"), 3)
          assert.strictEqual(yield* transitionCount("db", "Closed", "Open"), 1)
          assert.strictEqual(yield* gaugeOf("db"), 2)
        })
    ))

  it.effect("HalfOpen lets exactly one probe through; others are rejected while it runs", () =>
    withBreakers(
      { policy: { consecutiveFailures: 1, openDuration: 50 } },
      ({ breakers, settle }) =>
        Effect.gen(function*() {
          yield* Effect.flip(Effect.fail(new Down()).pipe(breakers.execute("svc")))
          yield* TestClock.adjust("50 millis")
          const release = yield* Deferred.make<void>()
          const probe = yield* Deferred.await(release).pipe(
            Effect.as("probed"),
            breakers.execute("svc"),
            Effect.forkChild
          )
          yield* settle
          assert.deepStrictEqual(yield* breakers.state("svc"), {
            _tag: "HalfOpen",
            key: "svc",
            probing: true,
            consecutiveOpenings: 1
          })
          assert.strictEqual(yield* gaugeOf("svc"), 1)
          let ran = false
          const other = yield* Effect.flip(Effect.sync(() => (ran = true)).pipe(breakers.execute("svc")))
          assert.deepStrictEqual(other, new CircuitOpen({ key: "svc", retryAfterMillis: 0 }))
          assert.isFalse(ran)
          yield* Deferred.succeed(release, undefined)
          assert.strictEqual(yield* Fiber.join(probe), "probed")
          assert.strictEqual((yield* breakers.state("svc"))._tag, "Closed")
          yield* settle
          assert.strictEqual(yield* gaugeOf("svc"), 0)
        })
    ))

  it.effect("an interrupted probe frees the slot for the next call", () =>
    withBreakers(
      { policy: { consecutiveFailures: 1, openDuration: 50 } },
      ({ breakers, settle }) =>
        Effect.gen(function*() {
          yield* Effect.flip(Effect.fail(new Down()).pipe(breakers.execute("svc")))
          yield* TestClock.adjust("50 millis")
          const probe = yield* Effect.never.pipe(breakers.execute("svc"), Effect.forkChild)
          yield* settle
          yield* Fiber.interrupt(probe)
          assert.strictEqual(yield* Effect.succeed("next").pipe(breakers.execute("svc")), "next")
          assert.strictEqual((yield* breakers.state("svc"))._tag, "Closed")
        })
    ))

  it.effect("the rate policy opens when failures reach the threshold over the window", () =>
    withBreakers(
      { policy: { trip: "rate", failureRateThreshold: 0.5, rateWindowSize: 4, openDuration: 1_000 } },
      ({ breakers }) =>
        Effect.gen(function*() {
          const api = counter()
          const call = (eff: Effect.Effect<string, Down>) => Effect.exit(eff.pipe(breakers.execute("search")))
          yield* call(api.succeeding)
          yield* call(api.failing)
          yield* call(api.failing) // 2 of 3: below minimumCalls (the window size, 4)
          assert.strictEqual((yield* breakers.state("search"))._tag, "Closed")
          yield* call(api.succeeding) // 2 of 4 = 0.5
          assert.strictEqual((yield* breakers.state("search"))._tag, "Open")
        })
    ))

  it.effect("the rate policy counts only the last calls of its window", () =>
    withBreakers(
      { policy: { trip: "rate", failureRateThreshold: 0.5, rateWindowSize: 4 } },
      ({ breakers }) =>
        Effect.gen(function*() {
          const api = counter()
          const call = (eff: Effect.Effect<string, Down>) => Effect.exit(eff.pipe(breakers.execute("search")))
          const { failing: F, succeeding: S } = api
          for (const eff of [F, S, S, S, S, S, S, F]) yield* call(eff)
          assert.strictEqual((yield* breakers.state("search"))._tag, "Closed") // last 4: S S S F = 0.25
          yield* call(F) // last 4: S S F F = 0.5, though only 3 of all 9 calls failed
          assert.strictEqual((yield* breakers.state("search"))._tag, "Open")
        })
    ))

  it.effect("keyed circuits are isolated from each other", () =>
    withBreakers(
      { policy: { consecutiveFailures: 1, openDuration: 1_000 } },
      ({ breakers, settle }) =>
        Effect.gen(function*() {
          yield* Effect.flip(Effect.fail(new Down()).pipe(breakers.execute("a")))
          assert.strictEqual((yield* breakers.state("a"))._tag, "Open")
          assert.deepStrictEqual(yield* breakers.state("b"), { _tag: "Closed", key: "b" })
          assert.strictEqual(yield* Effect.succeed("b ok").pipe(breakers.execute("b")), "b ok")
          assert.instanceOf(yield* Effect.flip(Effect.succeed(1).pipe(breakers.execute("a"))), CircuitOpen)
          yield* settle
          assert.strictEqual(yield* transitionCount("a", "Closed", "Open"), 1)
          assert.strictEqual(yield* transitionCount("b", "Closed", "Open"), 0)
        })
    ))

  it.effect("a key can have its own policy, merged over the default", () =>
    withBreakers(
      { policy: { consecutiveFailures: 3, openDuration: 500 }, keys: { payments: { consecutiveFailures: 1 } } },
      ({ breakers }) =>
        Effect.gen(function*() {
          yield* Effect.flip(Effect.fail(new Down()).pipe(breakers.execute("payments")))
          yield* Effect.flip(Effect.fail(new Down()).pipe(breakers.execute("search")))
          const payments = yield* breakers.state("payments")
          assert.deepStrictEqual(payments, {
            _tag: "Open",
            key: "payments",
            retryAfterMillis: 500,
            consecutiveOpenings: 1
          })
          assert.strictEqual((yield* breakers.state("search"))._tag, "Closed")
        })
    ))

  it.effect("failures that isFailure rejects neither count against the dependency nor reset the streak", () =>
    withBreakers({ policy: { consecutiveFailures: 2 } }, ({ breakers }) =>
      Effect.gen(function*() {
        const options = { isFailure: (e: unknown) => !(e instanceof NotFound) }
        const call = (error: Down | NotFound) =>
          Effect.flip(Effect.fail(error).pipe(breakers.execute("users", options)))
        assert.instanceOf(yield* call(new NotFound()), NotFound)
        assert.instanceOf(yield* call(new NotFound()), NotFound)
        assert.strictEqual((yield* breakers.state("users"))._tag, "Closed")
        yield* call(new Down())
        yield* call(new NotFound()) // ignored: a success here would reset the streak of 1
        yield* call(new Down())
        assert.strictEqual((yield* breakers.state("users"))._tag, "Open")
      })))

  it.effect("a call's own CircuitBreakerError (from an inner breaker) passes through untranslated", () =>
    withBreakers({ policy: { consecutiveFailures: 5 } }, ({ breakers }) =>
      Effect.gen(function*() {
        const inner = new CircuitBreaker.CircuitBreakerError({
          reason: new CircuitBreaker.CircuitOpen({ key: "inner", retryAfter: Duration.seconds(1) })
        })
        const error = yield* Effect.flip(Effect.fail(inner).pipe(breakers.execute("outer")))
        assert.strictEqual(error, inner)
      })))

  it.effect("defects count as failures and pass through unchanged", () =>
    withBreakers({ policy: { consecutiveFailures: 1 } }, ({ breakers }) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.die("boom").pipe(breakers.execute("x")))
        assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Die")
        assert.strictEqual((yield* breakers.state("x"))._tag, "Open")
      })))
})

describe("CircuitBreakers configuration", () => {
  const invalid = (config: CircuitBreakersConfig) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(CircuitBreakers.layer(config)))
      assert.instanceOf(error, InvalidConfig)
      return error
    })

  it.effect("bad fields fail the layer with InvalidConfig naming the field", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* invalid({ policy: { openBackoffCoefficient: 0.5 } })).field,
        "breaker.policy.openBackoffCoefficient"
      )
      const zero = yield* invalid({ policy: { consecutiveFailures: 0 } })
      assert.strictEqual(zero.field, "breaker.policy.consecutiveFailures")
      assert.strictEqual(zero.value, "0")
      assert.strictEqual(
        (yield* invalid({ policy: { openDuration: -1 } })).field,
        "breaker.policy.openDuration"
      )
      assert.strictEqual(
        (yield* invalid({ policy: { failureRateThreshold: 2 } })).field,
        "breaker.policy.failureRateThreshold"
      )
      assert.strictEqual(
        (yield* invalid({ policy: { rateWindowSize: 10, rateMinimumCalls: 11 } })).field,
        "breaker.policy.rateMinimumCalls"
      )
      assert.strictEqual(
        (yield* invalid({ policy: { openDuration: 1000, maximumOpenDuration: 10 } })).field,
        "breaker.policy.maximumOpenDuration"
      )
      assert.strictEqual(
        (yield* invalid({ keys: { payments: { consecutiveFailures: -1 } } })).field,
        "breaker.keys.payments.consecutiveFailures"
      )
    }))
})
