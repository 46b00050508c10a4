import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as os from "node:os"
import { Config, InvalidConfig, RetryPolicy } from "../../src/index.ts"
import * as ConfigValidation from "../../src/runtime/config/ConfigValidation.ts"

const valid = <A>(exit: Exit.Exit<A, InvalidConfig>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected a success, got ${String(exit.cause)}`)
  return exit.value
}

const invalid = <A>(exit: Exit.Exit<A, InvalidConfig>): InvalidConfig => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  assert.instanceOf(reason.error, InvalidConfig)
  return reason.error
}

describe("PoolConfig", () => {
  const decode = ConfigValidation.decodeConfigExit(Config.PoolConfig, "pool")

  it("defaults follow os.availableParallelism()", () => {
    const config = valid(decode({}))
    assert.strictEqual(config.maxWorkers, Math.max(1, os.availableParallelism()))
    assert.strictEqual(config.minWorkers, 1)
    assert.strictEqual(config.mode, "thread")
    assert.strictEqual(config.concurrentTasksPerWorker, 16)
  })

  it("undefined input takes every default", () => {
    assert.deepStrictEqual(valid(decode(undefined)), valid(decode({})))
  })

  it("keeps valid values", () => {
    const config = valid(decode({ minWorkers: 0, maxWorkers: 4, resourceLimits: { maxOldGenerationSizeMb: 64 } }))
    assert.strictEqual(config.maxWorkers, 4)
    assert.strictEqual(config.resourceLimits?.maxOldGenerationSizeMb, 64)
  })

  it("a negative size names the field and the value", () => {
    const error = invalid(decode({ maxWorkers: -2 }))
    assert.strictEqual(error.field, "pool.maxWorkers")
    assert.strictEqual(error.value, "-2")
  })

  it("zero concurrency is rejected", () => {
    const error = invalid(decode({ concurrentTasksPerWorker: 0 }))
    assert.strictEqual(error.field, "pool.concurrentTasksPerWorker")
    assert.strictEqual(error.value, "0")
  })

  it("a max below the min is rejected on the max", () => {
    const error = invalid(decode({ minWorkers: 4, maxWorkers: 2 }))
    assert.strictEqual(error.field, "pool.maxWorkers")
    assert.strictEqual(error.value, "2")
    assert.include(error.detail, "minWorkers")
  })

  it("fractions, strings and unknown modes are rejected", () => {
    assert.strictEqual(invalid(decode({ maxWorkers: 1.5 })).field, "pool.maxWorkers")
    assert.strictEqual(invalid(decode({ maxWorkers: "4" })).value, "\"4\"")
    assert.strictEqual(invalid(decode({ mode: "fiber" })).field, "pool.mode")
    assert.strictEqual(
      invalid(decode({ resourceLimits: { stackSizeMb: -1 } })).field,
      "pool.resourceLimits.stackSizeMb"
    )
  })

  it("child processes, and a min equal to the max (whatever the machine's core count), are accepted", () => {
    const config = valid(decode({ mode: "process", minWorkers: 7, maxWorkers: 7 }))
    assert.strictEqual(config.mode, "process")
    assert.deepStrictEqual([config.minWorkers, config.maxWorkers], [7, 7])
    assert.strictEqual(invalid(decode({ minWorkers: 8, maxWorkers: 7 })).field, "pool.maxWorkers")
  })

  it("an old-generation heap too small to start a worker (1 or 2 MB abort the host) is rejected", () => {
    for (const mb of [1, 2, 2.9, 0, -4]) {
      const error = invalid(decode({ resourceLimits: { maxOldGenerationSizeMb: mb } }))
      assert.strictEqual(error.field, "pool.resourceLimits.maxOldGenerationSizeMb")
      assert.strictEqual(error.value, String(mb))
      assert.include(error.detail, "at least 3")
    }
    assert.strictEqual(
      valid(decode({ resourceLimits: { maxOldGenerationSizeMb: 3 } })).resourceLimits?.maxOldGenerationSizeMb,
      3
    )
  })
})

describe("SchedulerConfig", () => {
  const decode = ConfigValidation.decodeConfigExit(Config.SchedulerConfig, "scheduler")

  it("defaults", () => {
    const config = valid(decode({}))
    assert.strictEqual(config.permits, Config.parallelism)
    assert.strictEqual(config.overflow, "suspend")
    assert.isUndefined(config.capacity)
  })

  it("overflow: fail is accepted; an unknown overflow policy is rejected by name", () => {
    assert.strictEqual(valid(decode({ overflow: "fail", capacity: 10 })).overflow, "fail")
    const error = invalid(decode({ overflow: "drop" }))
    assert.strictEqual(error.field, "scheduler.overflow")
    assert.strictEqual(error.value, "\"drop\"")
  })

  it("zero or negative permits, capacity or rate are typed errors naming the field", () => {
    assert.strictEqual(invalid(decode({ permits: 0 })).field, "scheduler.permits")
    assert.strictEqual(invalid(decode({ permits: -3 })).value, "-3")
    assert.strictEqual(invalid(decode({ capacity: 0 })).field, "scheduler.capacity")
    assert.strictEqual(invalid(decode({ rate: { limit: 0, interval: 1000 } })).field, "scheduler.rate.limit")
    assert.strictEqual(
      invalid(decode({ rate: { limit: 5, interval: 0 } })).field,
      "scheduler.rate.interval"
    )
    assert.strictEqual(invalid(decode({ overflow: "drop" })).field, "scheduler.overflow")
  })
})

describe("OrchestratorConfig", () => {
  const decode = ConfigValidation.decodeConfigExit(Config.OrchestratorConfig)

  it("every section defaults", () => {
    const config = valid(decode({}))
    assert.strictEqual(config.pool.maxWorkers, Config.parallelism)
    assert.strictEqual(config.scheduler.permits, Config.parallelism)
    assert.isAtLeast(config.blocking.threads, 1)
  })

  it("nested errors carry the full path", () => {
    assert.strictEqual(invalid(decode({ pool: { minWorkers: -1 } })).field, "pool.minWorkers")
    assert.strictEqual(invalid(decode({ blocking: { threads: 0 } })).field, "blocking.threads")
    assert.strictEqual(invalid(decode({ retry: { backoffCoefficient: 0.5 } })).field, "retry.backoffCoefficient")
  })

  it.effect("decodeConfig fails in the error channel", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ConfigValidation.decodeConfig(Config.PoolConfig, "pool")({ maxWorkers: 0 }))
      assert.strictEqual(error._tag, "InvalidConfig")
      assert.strictEqual(error.field, "pool.maxWorkers")
    }))
})

describe("RetryPolicy", () => {
  const decode = ConfigValidation.decodeConfigExit(RetryPolicy.RetryPolicy, "retry")

  it("defaults", () => {
    const policy = valid(decode({}))
    assert.deepStrictEqual(policy, {
      initialInterval: 100,
      backoffCoefficient: 2,
      maximumAttempts: 3,
      jitter: 0.2,
      nonRetryable: []
    })
  })

  it("round-trips through its encoded form", () => {
    const policy = valid(decode({ initialInterval: 5, deadline: 1000, nonRetryable: ["Fatal"] }))
    const encoded = Schema.encodeUnknownSync(RetryPolicy.RetryPolicy)(policy)
    assert.deepStrictEqual(valid(decode(structuredClone(encoded))), policy)
  })

  it("a coefficient below 1, a negative interval and zero attempts are rejected by name", () => {
    assert.strictEqual(invalid(decode({ backoffCoefficient: 0.9 })).field, "retry.backoffCoefficient")
    assert.strictEqual(invalid(decode({ initialInterval: -1 })).field, "retry.initialInterval")
    assert.strictEqual(invalid(decode({ maximumInterval: -1 })).field, "retry.maximumInterval")
    assert.strictEqual(invalid(decode({ maximumAttempts: 0 })).field, "retry.maximumAttempts")
    assert.strictEqual(invalid(decode({ jitter: 1.5 })).field, "retry.jitter")
    assert.strictEqual(invalid(decode({ attemptTimeout: 0 })).field, "retry.attemptTimeout")
  })
})

describe("ConfigValidation.timeoutMillis", () => {
  it("accepts positive durations, and infinity as no timeout", () => {
    assert.strictEqual(ConfigValidation.timeoutMillis("2 seconds", "t"), 2_000)
    assert.strictEqual(ConfigValidation.timeoutMillis(15, "t"), 15)
    assert.strictEqual(ConfigValidation.timeoutMillis("Infinity", "t"), Number.POSITIVE_INFINITY)
  })

  it("rejects zero, negative and unparsable durations, naming the field", () => {
    for (const bad of [0, -5, "-1 second", "soon", Number.NaN] as const) {
      const error = ConfigValidation.timeoutMillis(bad as never, "task.timeout")
      assert.instanceOf(error, InvalidConfig)
      assert.strictEqual((error as InvalidConfig).field, "task.timeout")
    }
  })
})
