// Every duration a user passes in is a `Duration.Input` (a number is milliseconds, a string such as
// "2 seconds", a Duration value), named without a unit; a bad one is `InvalidConfig` naming the field path and
// the value. One table drives every such field of the configuration and the policies, and the layers' own
// options are checked where they are read.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import { CircuitPolicy, Config, DurationInput, InvalidConfig, RetryPolicy } from "../../src/index.ts"
import { WorkerTask } from "../../src/index.ts"
import * as Consumer from "../../src/layers/Consumer.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import * as Producer from "../../src/layers/Producer.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import * as ConfigValidation from "../../src/runtime/config/ConfigValidation.ts"
import * as BackgroundQueue from "../../src/runtime/orchestrator/BackgroundQueue.ts"

const decodeOrchestrator = ConfigValidation.decodeConfigExit(Config.OrchestratorConfig)

/** Puts `value` at `path` of an empty object: `["pool", "idleTimeout"]` gives `{ pool: { idleTimeout } }`. */
const at = (path: ReadonlyArray<string>, value: unknown): Record<string, unknown> =>
  path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>

const get = (decoded: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((inner, key) => (inner as Record<string, unknown>)[key], decoded)

const failure = <A>(exit: Exit.Exit<A, unknown>): InvalidConfig => {
  assert.isTrue(Exit.isFailure(exit), `expected a failure, got ${JSON.stringify(exit)}`)
  const error = Cause.findErrorOption((exit as Exit.Failure<A, unknown>).cause)
  assert.isTrue(Option.isSome(error), `expected a typed failure, got ${String(exit)}`)
  const value = (error as Option.Some<unknown>).value
  assert.instanceOf(value, InvalidConfig)
  return value
}

// Each duration field of the orchestrator's configuration, with what else it needs to be valid.
const orchestratorFields: ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly base?: object }> = [
  { path: ["pool", "idleTimeout"] },
  { path: ["pool", "taskTimeout"] },
  { path: ["pool", "terminationGrace"] },
  { path: ["pool", "shutdownDeadline"] },
  { path: ["pool", "bootTimeout"] },
  { path: ["scheduler", "aging"] },
  { path: ["scheduler", "rate", "interval"], base: { scheduler: { rate: { limit: 5 } } } },
  { path: ["background", "drainDeadline"] },
  { path: ["retry", "initialInterval"] },
  { path: ["retry", "maximumInterval"], base: { retry: { initialInterval: 1 } } },
  { path: ["retry", "attemptTimeout"] },
  { path: ["retry", "deadline"] }
]

const merge = (base: object | undefined, patch: Record<string, unknown>): Record<string, unknown> => {
  if (base === undefined) return patch
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [key, value] of Object.entries(patch)) {
    const inner = out[key]
    out[key] = typeof inner === "object" && inner !== null && typeof value === "object" && value !== null
      ? merge(inner, value as Record<string, unknown>)
      : value
  }
  return out
}

describe("durations in the configuration", () => {
  for (const { base, path } of orchestratorFields) {
    const field = path.join(".")
    it(`${field}: a number is milliseconds, a string and a Duration are parsed, a bad value names the field`, () => {
      const decode = (value: unknown) => decodeOrchestrator(merge(base, at(path, value)))
      const ok = (value: unknown) => {
        const exit = decode(value)
        assert.isTrue(Exit.isSuccess(exit), `${field} = ${String(value)}: ${String(exit)}`)
        return get((exit as Exit.Success<unknown>).value, path)
      }
      assert.strictEqual(ok(1_500), 1_500)
      assert.strictEqual(ok("2 seconds"), 2_000)
      assert.strictEqual(ok(Duration.minutes(1)), 60_000)
      for (const [bad, rendered] of [["-5 seconds", "\"-5 seconds\""], ["soon", "\"soon\""], [-1, "-1"]] as const) {
        const error = failure(decode(bad))
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.value, rendered)
      }
    })
  }

  it("NaN and infinite durations are rejected, not read as zero or as no limit", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, "Infinity", Duration.infinity]) {
      assert.strictEqual(failure(decodeOrchestrator({ pool: { idleTimeout: bad } })).field, "pool.idleTimeout")
    }
  })

  it("a decoded configuration holds milliseconds, and so does its encoded form", () => {
    const decoded = Schema.decodeUnknownSync(Config.OrchestratorConfig)({ retry: { deadline: "1 minute" } })
    assert.strictEqual(decoded.retry?.deadline, 60_000)
    const encoded = Schema.encodeSync(RetryPolicy.RetryPolicy)(decoded.retry!)
    assert.strictEqual(encoded.deadline, 60_000)
    assert.strictEqual(encoded.initialInterval, 100)
  })

  it("the schemas themselves: zero is a non-negative duration but not a positive one", () => {
    assert.strictEqual(Schema.decodeUnknownSync(DurationInput.NonNegative)("0 millis"), 0)
    assert.isTrue(Exit.isFailure(Schema.decodeUnknownExit(DurationInput.Positive)(0)))
    assert.isTrue(Exit.isFailure(Schema.decodeUnknownExit(DurationInput.Positive)(null)))
  })
})

describe("durations in the circuit policy", () => {
  const decode = ConfigValidation.decodeConfigExit(CircuitPolicy.CircuitPolicy, "policy")
  for (const name of ["openDuration", "maximumOpenDuration"] as const) {
    it(`${name}: a number and a string are accepted, a bad value names the field`, () => {
      const ok = (value: unknown) => {
        const exit = decode({ openDuration: 1, [name]: value })
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        return (exit as Exit.Success<CircuitPolicy.CircuitPolicy>).value[name]
      }
      assert.strictEqual(ok(250), 250)
      assert.strictEqual(ok("3 seconds"), 3_000)
      const error = failure(decode({ [name]: "-5 seconds" }))
      assert.strictEqual(error.field, `policy.${name}`)
      assert.strictEqual(error.value, "\"-5 seconds\"")
    })
  }

  it("the maximum is compared in milliseconds, whatever units each was written in", () => {
    const error = failure(decode({ openDuration: "2 seconds", maximumOpenDuration: 1_000 }))
    assert.strictEqual(error.field, "policy.maximumOpenDuration")
    assert.include(error.detail, "2000 ms")
    assert.isTrue(Exit.isSuccess(decode({ openDuration: "2 seconds", maximumOpenDuration: "1 minute" })))
  })
})

describe("durations in the layers' own options", () => {
  const Tasks = WorkerTask.group()

  it.effect("WorkerPool queue.aging takes a Duration.Input and names pool.queue.aging", () =>
    Effect.gen(function*() {
      const build = (aging: unknown) =>
        Effect.exit(
          Effect.scoped(Layer.build(WorkerPool.layerTest(Tasks, {}, { queue: { aging } as never })))
        )
      assert.isTrue(Exit.isSuccess(yield* build("2 seconds")))
      assert.isTrue(Exit.isSuccess(yield* build(500)))
      const error = failure(yield* build("never"))
      assert.strictEqual(error.field, "pool.queue.aging")
      assert.strictEqual(error.value, "\"never\"")
    }))

  it.effect("Orchestrator.shutdown's deadline takes a Duration.Input and a bad one fails before anything stops", () =>
    Effect.gen(function*() {
      const queue = yield* BackgroundQueue.make({
        consumers: 1,
        execute: () => Effect.die("not run") as never
      })
      const error = failure(yield* Effect.exit(queue.shutdown({ mode: "drain", deadline: "-5 seconds" })))
      assert.strictEqual(error.field, "shutdown.deadline")
      assert.strictEqual(error.value, "\"-5 seconds\"")
      assert.isTrue((yield* queue.stats).accepting)
      yield* queue.shutdown({ mode: "drain", deadline: "1 second" })
      assert.isFalse((yield* queue.stats).accepting)
    }).pipe(Effect.scoped))

  // Validated before any connection is tried, so these need no Redis: the port is never dialled.
  const redis = { port: 1 }

  it.effect("Producer: metricsInterval and redis.connectTimeout take a Duration.Input and name the field", () =>
    Effect.gen(function*() {
      const build = (options: Partial<Producer.Options>) =>
        Effect.exit(Effect.scoped(Layer.build(Producer.layer({ queue: "q", redis, ...options }))))
      const metrics = failure(yield* build({ metricsInterval: "-5 seconds" }))
      assert.strictEqual(metrics.field, "metricsInterval")
      assert.strictEqual(metrics.value, "-5 seconds")
      const connect = failure(yield* build({ redis: { ...redis, connectTimeout: "soon" as Duration.Input } }))
      assert.strictEqual(connect.field, "redis.connectTimeout")
      assert.strictEqual(connect.value, "soon")
      const zero = failure(yield* build({ redis: { ...redis, connectTimeout: 0 } }))
      assert.strictEqual(zero.field, "redis.connectTimeout")
    }))

  it.effect("Consumer: lockDuration, stalledInterval, shutdownDeadline and limiter.duration name the field", () =>
    Effect.gen(function*() {
      const build = (options: Partial<Consumer.Options<typeof Tasks>>) =>
        Effect.exit(
          Effect.scoped(Layer.build(
            Consumer.layer({ queue: "q", tasks: Tasks, redis, ...options }).pipe(
              Layer.provide(Orchestrator.layerTest())
            )
          ))
        )
      const cases: ReadonlyArray<readonly [Partial<Consumer.Options<typeof Tasks>>, string, string]> = [
        [{ lockDuration: "-5 seconds" }, "lockDuration", "-5 seconds"],
        [{ stalledInterval: "later" as Duration.Input }, "stalledInterval", "later"],
        [{ shutdownDeadline: 0 }, "shutdownDeadline", "0"],
        [{ limiter: { max: 3, duration: "-1 second" } }, "limiter.duration", "-1 second"]
      ]
      for (const [options, field, value] of cases) {
        const error = failure(yield* build(options))
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.value, value)
      }
    }))
})
