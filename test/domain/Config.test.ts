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

  it("every default, exactly", () => {
    assert.deepStrictEqual(valid(decode({})), {
      minWorkers: 1,
      maxWorkers: Config.parallelism,
      concurrentTasksPerWorker: 16,
      pipelineDepth: 64,
      idleTimeout: 30_000,
      terminationGrace: 1_000,
      shutdownDeadline: 10_000,
      maxBootFailures: 3,
      bootTimeout: 30_000,
      mode: "thread",
      durationBucketsSeconds: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60]
    })
  })

  it("zero is accepted where a duration or count may be zero, and rejected where it must be positive", () => {
    const zeros = valid(decode({ idleTimeout: 0, terminationGrace: 0, shutdownDeadline: 0 }))
    assert.deepStrictEqual(
      [zeros.idleTimeout, zeros.terminationGrace, zeros.shutdownDeadline],
      [0, 0, 0]
    )
    for (
      const field of ["maxTasksPerWorker", "maxHeapMb", "taskTimeout", "bootTimeout", "maxBootFailures"]
    ) {
      assert.strictEqual(invalid(decode({ [field]: 0 })).field, `pool.${field}`)
    }
    for (const field of ["idleTimeout", "terminationGrace", "shutdownDeadline", "minWorkers"]) {
      assert.strictEqual(invalid(decode({ [field]: -1 })).field, `pool.${field}`)
    }
    for (const field of ["maxYoungGenerationSizeMb", "codeRangeSizeMb", "stackSizeMb"]) {
      assert.strictEqual(invalid(decode({ resourceLimits: { [field]: 0 } })).field, `pool.resourceLimits.${field}`)
    }
    const ok = valid(decode({ maxTasksPerWorker: 1, maxHeapMb: 0.5, taskTimeout: 0.5, bootTimeout: 1 }))
    assert.deepStrictEqual([ok.maxTasksPerWorker, ok.maxHeapMb, ok.taskTimeout, ok.bootTimeout], [
      1,
      0.5,
      0.5,
      1
    ])
    assert.strictEqual(invalid(decode({ idleTimeout: Infinity })).field, "pool.idleTimeout")
  })

  it("niceIncrement is an integer from 0 to 19", () => {
    assert.strictEqual(valid(decode({ niceIncrement: 0 })).niceIncrement, 0)
    assert.strictEqual(valid(decode({ niceIncrement: 19 })).niceIncrement, 19)
    for (const bad of [-1, 20, 1.5]) {
      assert.strictEqual(invalid(decode({ niceIncrement: bad })).field, "pool.niceIncrement")
    }
  })

  it("duration buckets: at least one, each greater than the one before it", () => {
    assert.deepStrictEqual(valid(decode({ durationBucketsSeconds: [0.5] })).durationBucketsSeconds, [0.5])
    const empty = invalid(decode({ durationBucketsSeconds: [] }))
    assert.strictEqual(empty.field, "pool.durationBucketsSeconds")
    assert.include(empty.detail, "at least one bound")
    const equal = invalid(decode({ durationBucketsSeconds: [1, 2, 2] }))
    assert.strictEqual(equal.field, "pool.durationBucketsSeconds.2")
    assert.include(equal.detail, "greater than the bound before it (2)")
    assert.strictEqual(invalid(decode({ durationBucketsSeconds: [1, 0.5] })).field, "pool.durationBucketsSeconds.1")
    assert.strictEqual(invalid(decode({ durationBucketsSeconds: [0, 1] })).field, "pool.durationBucketsSeconds.0")
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

  it("a pipeline depth that is not a positive integer is rejected, naming the field and the value", () => {
    for (const [value, shown] of [[0, "0"], [2.5, "2.5"], ["64", "\"64\""]] as const) {
      const error = invalid(decode({ pipelineDepth: value as number }))
      assert.strictEqual(error.field, "pool.pipelineDepth")
      assert.strictEqual(error.value, shown)
    }
    assert.strictEqual(valid(decode({ pipelineDepth: 1 })).pipelineDepth, 1)
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
    assert.deepStrictEqual(valid(decode({})), {
      permits: Config.parallelism,
      overflow: "suspend",
      aging: 10_000,
      durationBucketsSeconds: Config.defaultDurationBucketsSeconds
    })
  })

  it("aging, perKeyLimit and rate keep valid values and reject zero", () => {
    const config = valid(decode({ aging: 0.5, perKeyLimit: 1, rate: { limit: 1, interval: 0.5 } }))
    assert.deepStrictEqual([config.aging, config.perKeyLimit, config.rate], [0.5, 1, {
      limit: 1,
      interval: 0.5
    }])
    assert.strictEqual(invalid(decode({ aging: 0 })).field, "scheduler.aging")
    assert.strictEqual(invalid(decode({ perKeyLimit: 0 })).field, "scheduler.perKeyLimit")
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
    assert.strictEqual(config.blocking.threads, Math.max(1, Math.min(4, Config.parallelism)))
    assert.deepStrictEqual(config.background, { consumers: Config.parallelism * 2, drainDeadline: 10_000 })
    assert.deepStrictEqual(config.durationBucketsSeconds, Config.defaultDurationBucketsSeconds)
    assert.isUndefined(config.cpuPermits)
    assert.isUndefined(config.retry)
  })

  it("a key written as undefined, at any depth, takes its default as an absent key does", () => {
    const options = {
      retry: undefined,
      cpuPermits: undefined,
      pool: { maxWorkers: undefined, minWorkers: 1, queue: undefined },
      scheduler: { rate: undefined, permits: 3 }
    }
    const config = valid(decode(options))
    assert.deepStrictEqual(config, valid(decode({ pool: { minWorkers: 1 }, scheduler: { permits: 3 } })))
    assert.isUndefined(config.retry)
    assert.strictEqual(config.pool.maxWorkers, Config.parallelism)
    // the caller's object is left as it was
    assert.isTrue("retry" in options && "maxWorkers" in options.pool)
    // a bad value next to an undefined one is still reported by name
    const error = invalid(decode({ retry: undefined, pool: { maxWorkers: undefined, minWorkers: -1 } }))
    assert.deepInclude(error, { field: "pool.minWorkers", value: "-1" })
  })

  it("background and cpuPermits: kept when valid, rejected by name when not", () => {
    const config = valid(decode({ cpuPermits: 1, background: { consumers: 1, drainDeadline: 0 } }))
    assert.deepStrictEqual([config.cpuPermits, config.background], [1, { consumers: 1, drainDeadline: 0 }])
    assert.strictEqual(invalid(decode({ background: { consumers: 0 } })).field, "background.consumers")
    assert.strictEqual(
      invalid(decode({ background: { drainDeadline: -1 } })).field,
      "background.drainDeadline"
    )
    assert.strictEqual(invalid(decode({ cpuPermits: 0 })).field, "cpuPermits")
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

describe("ConfigValidation.decodeConfigExit", () => {
  const decode = ConfigValidation.decodeConfigExit(Config.PoolConfig, "pool")

  it("names every kind of offending value, and a function or symbol is an InvalidConfig, not a thrown defect", () => {
    const cases: Array<readonly [unknown, string]> = [
      [true, "true"],
      ["4", "\"4\""],
      [10n, "10n"],
      [function workers() {}, "a function (workers)"],
      [Symbol("s"), "Symbol(s)"],
      [[1, 2], "[1,2]"],
      [{ n: 1n }, "[object Object]"]
    ]
    for (const [value, rendered] of cases) {
      const error = invalid(decode({ maxWorkers: value }))
      assert.strictEqual(error.field, "pool.maxWorkers")
      assert.strictEqual(error.value, rendered)
      assert.include(error.detail, "Expected number")
    }
    assert.strictEqual(invalid(decode({ maxWorkers: () => 1 })).value, "a function (maxWorkers)")
    // numbers as they are, not as JSON writes them (null)
    assert.strictEqual(invalid(decode({ maxWorkers: Number.NaN })).value, "NaN")
    assert.strictEqual(invalid(decode({ maxWorkers: Infinity })).value, "Infinity")
    assert.strictEqual(invalid(decode({ maxWorkers: [() => 1][0] })).value, "a function")
  })

  it("the detail is the first issue's own message, not the whole schema error", () => {
    assert.strictEqual(invalid(decode({ maxWorkers: -2 })).detail, "Expected a value greater than or equal to 1")
  })

  it("a missing required key reads as undefined", () => {
    const error = invalid(ConfigValidation.decodeConfigExit(Config.SchedulerConfig, "scheduler")({ rate: {} }))
    assert.deepStrictEqual([error.field, error.value], ["scheduler.rate.limit", "undefined"])
  })

  it("a value that is not an object at all is reported on the section, or on (root) without one", () => {
    const error = invalid(decode("nope"))
    assert.deepStrictEqual([error.field, error.value], ["pool", "\"nope\""])
    assert.strictEqual(invalid(ConfigValidation.decodeConfigExit(Config.PoolConfig)(7)).field, "(root)")
  })

  it("null input takes every default, as undefined does", () => {
    assert.deepStrictEqual(valid(decode(null)), valid(decode({})))
  })

  it("a defect inside a schema stays a defect", () => {
    const throwing = Schema.Number.check(Schema.makeFilter((): boolean => {
      throw new Error("boom")
    }))
    const exit = ConfigValidation.decodeConfigExit(throwing)(1)
    assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Die")
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
      assert.strictEqual((error as InvalidConfig).detail, "expected a positive duration")
    }
  })
})
