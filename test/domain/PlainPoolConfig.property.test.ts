// The pool's configuration decoded by hand (plain numbers, the common case) is the schema's decoding exactly,
// and anything it does not take (strings, Durations, limits, buckets, values out of range) goes to the schema.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Exit } from "effect"
import fc from "fast-check"
import { Config } from "../../src/index.ts"
import { decodeConfigExit } from "../../src/runtime/config/ConfigValidation.ts"
import { plainPoolConfig } from "../../src/runtime/config/PlainPoolConfig.ts"

const decode = decodeConfigExit(Config.PoolConfig, "pool")

/** Values near every field's bounds, of the types users pass, and some that are wrong. */
const value = fc.oneof(
  fc.integer({ min: -2, max: 40 }),
  fc.constantFrom(0.5, -0, 1.5, 19, 20, 1e6, Number.MAX_SAFE_INTEGER + 1, Number.NaN, Infinity, -Infinity),
  fc.double(),
  fc.constantFrom("thread", "process", "fiber", "2 seconds", "", "3"),
  fc.constantFrom(undefined, null, true, Duration.seconds(2), [0.1, 1], { maxOldGenerationSizeMb: 64 })
)
const keys = [
  "minWorkers",
  "maxWorkers",
  "concurrentTasksPerWorker",
  "pipelineDepth",
  "idleTimeout",
  "maxTasksPerWorker",
  "maxHeapMb",
  "resourceLimits",
  "taskTimeout",
  "terminationGrace",
  "shutdownDeadline",
  "maxBootFailures",
  "bootTimeout",
  "mode",
  "durationBucketsSeconds",
  "niceIncrement"
] as const
const input = fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 })

/** Only valid plain values (maxWorkers given, at least minWorkers): the hand path must take each of them. */
const plainInput = fc.record({
  minWorkers: fc.integer({ min: 0, max: 4 }),
  maxWorkers: fc.integer({ min: 4, max: 64 }),
  concurrentTasksPerWorker: fc.integer({ min: 1, max: 128 }),
  pipelineDepth: fc.integer({ min: 1, max: 256 }),
  idleTimeout: fc.double({ min: 0, max: 1e6, noNaN: true }),
  taskTimeout: fc.double({ min: 0.001, max: 1e6, noNaN: true }),
  niceIncrement: fc.integer({ min: 0, max: 19 }),
  mode: fc.constantFrom("thread" as const, "process" as const)
}, { requiredKeys: ["maxWorkers"] })

describe("plainPoolConfig", () => {
  it("no options: the schema's defaults", () => {
    const exit = decode({})
    assert.isTrue(Exit.isSuccess(exit))
    assert.deepStrictEqual(plainPoolConfig({}), Exit.isSuccess(exit) ? exit.value : undefined)
  })

  it("whatever it decodes, the schema decodes the same; what it leaves, the schema decodes or rejects", () => {
    let taken = 0
    fc.assert(
      fc.property(input, (options) => {
        const plain = plainPoolConfig(options as never)
        if (plain === undefined) return
        taken++
        const exit = decode(options)
        assert.isTrue(Exit.isSuccess(exit), `the schema rejects what the hand path took: ${String(exit)}`)
        if (Exit.isSuccess(exit)) assert.deepStrictEqual(plain, exit.value)
      }),
      { numRuns: 2_000 }
    )
    assert.isAbove(taken, 100, "the random inputs reach the hand path")
  })

  it("it takes every configuration of plain valid values", () => {
    fc.assert(
      fc.property(plainInput, (options) => {
        const exit = decode(options)
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(plainPoolConfig(options), Exit.isSuccess(exit) ? exit.value : undefined)
      }),
      { numRuns: 500 }
    )
  })

  it("a duration as a string, resource limits, buckets and values out of range go to the schema", () => {
    assert.isUndefined(plainPoolConfig({ idleTimeout: "2 seconds" }))
    assert.isUndefined(plainPoolConfig({ resourceLimits: { maxOldGenerationSizeMb: 64 } }))
    assert.isUndefined(plainPoolConfig({ durationBucketsSeconds: [0.1, 1] }))
    assert.isUndefined(plainPoolConfig({ minWorkers: 3, maxWorkers: 2 }))
    assert.isUndefined(plainPoolConfig({ minWorkers: 0, maxWorkers: 0 }))
    assert.isUndefined(plainPoolConfig({ niceIncrement: 20 }))
  })
})
