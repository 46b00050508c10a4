// The wire format of the distributed queue, without Redis: backoff, failure encoding, retry rules, job ids.
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import * as fc from "fast-check"
import { WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import { RetryPolicy } from "../../src/domain/RetryPolicy.ts"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import {
  backoffMillis,
  bullPriority,
  codecsOf,
  decodeJobData,
  failureMarker,
  isRetryable,
  JobData
} from "../../src/runtime/distributed/JobWire.ts"
import { jobIdOf } from "../../src/runtime/distributed/QueueSettings.ts"
import { Charge, Declined } from "./fixtures/tasks.ts"

const policy = (input: typeof RetryPolicy.Encoded) => Schema.decodeUnknownSync(RetryPolicy)(input)

describe("JobWire", () => {
  it("backoff: initial × coefficient^(n−1), capped, jitter within ±jitter", () => {
    const p = policy({ initialInterval: 100, backoffCoefficient: 3, maximumInterval: 1_000, jitter: 0 })
    assert.deepStrictEqual([1, 2, 3, 4].map((n) => backoffMillis(p, n)), [100, 300, 900, 1_000])
    const jittered = policy({ initialInterval: 1_000, jitter: 0.2 })
    assert.strictEqual(backoffMillis(jittered, 1, 0), 800)
    assert.strictEqual(backoffMillis(jittered, 1, 1), 1_200)
    // Without maximumInterval the cap is 100 × the initial interval, as in-process.
    assert.strictEqual(backoffMillis(policy({ initialInterval: 10, jitter: 0 }), 20), 1_000)
  })

  it("a typed failure round-trips as the same class; BullMQ's own failures become WorkerCrashed", () => {
    const codecs = codecsOf(Charge)
    const at = new Date(Date.UTC(2026, 0, 2))
    const reason = codecs.encodeFailure({ _tag: "Fail", error: new Declined({ code: 7, account: "a", at }) })
    assert.isTrue(reason.startsWith(failureMarker))
    const decoded = codecs.decodeFailure(reason)
    assert.strictEqual(decoded._tag, "Fail")
    assert.instanceOf(decoded.error, Declined)
    assert.strictEqual((decoded.error as Declined).at.getTime(), at.getTime())
    const stalled = codecs.decodeFailure("job stalled more than allowable limit")
    assert.instanceOf(stalled.error, WorkerCrashed)
    assert.include((stalled.error as WorkerCrashed).detail, "stalled")
    // A marker followed by garbage is not trusted either.
    assert.instanceOf(codecs.decodeFailure(failureMarker + "{not json").error, WorkerCrashed)
    // An error outside the task's schema travels as a defect rather than being lost.
    const odd = codecs.decodeFailure(codecs.encodeFailure({ _tag: "Fail", error: new RangeError("odd") }))
    assert.strictEqual(odd._tag, "Die")
  })

  it("retry rules: never for UnknownTask, PayloadInvalid, JobDataInvalid, TaskCancelled; nonRetryable tags", () => {
    const p = policy({ nonRetryable: ["Declined"] })
    assert.isFalse(isRetryable(p, { _tag: "UnknownTask" }))
    assert.isFalse(isRetryable(p, { _tag: "PayloadInvalid" }))
    assert.isFalse(isRetryable(p, { _tag: "JobDataInvalid" }))
    assert.isFalse(isRetryable(p, { _tag: "TaskCancelled" }))
    assert.isFalse(isRetryable(p, { _tag: "Declined" }))
    assert.isTrue(isRetryable(p, { _tag: "TaskTimeout" }))
    assert.isTrue(isRetryable(p, { _tag: "WorkerCrashed" }))
    assert.isFalse(isRetryable(undefined, { _tag: "TaskTimeout" }), "no policy: no retry")
  })

  it("job data: the hand-checked common shape accepts and rejects exactly what the schema does", () => {
    const bySchema = Schema.decodeUnknownExit(Schema.toCodecJson(JobData))
    const anyValue = fc.oneof(
      fc.constantFrom(1, 2, 0, -5, 1.5, Number.NaN, Infinity, "1", "normal", "low", "x", true, null, undefined, [], {}),
      fc.string(),
      fc.double()
    )
    const field = <A>(valid: fc.Arbitrary<A>) => fc.option(fc.oneof(valid, valid, anyValue), { nil: undefined })
    const trace = fc.oneof(
      fc.record({ traceId: fc.string(), spanId: fc.string(), sampled: fc.boolean() }),
      fc.record({ traceId: anyValue, spanId: fc.string(), sampled: anyValue }),
      fc.record({ traceId: fc.string(), spanId: fc.string(), sampled: fc.boolean(), extra: anyValue }),
      anyValue
    )
    const data = fc.record({
      v: field(fc.constant(1)),
      task: field(fc.string()),
      payload: field(anyValue),
      priority: field(fc.constantFrom("critical", "high", "normal", "low")),
      timeoutMillis: field(fc.double({ min: 0.001, max: 1e9, noNaN: true })),
      retry: fc.option(fc.constantFrom({ maximumAttempts: 2 }, { maximumAttempts: -1 }, "x"), { nil: undefined }),
      key: field(fc.string()),
      trace: fc.option(trace, { nil: undefined }),
      enqueuedAt: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
      extra: fc.option(anyValue, { nil: undefined })
    }, { requiredKeys: [] })
    const agrees = (input: unknown) => {
      const ours = decodeJobData(input)
      const schema = bySchema(input)
      assert.strictEqual(ours._tag, schema._tag, JSON.stringify(input))
      if (Exit.isSuccess(ours) && Exit.isSuccess(schema)) assert.deepStrictEqual(ours.value, schema.value)
    }
    fc.assert(fc.property(fc.oneof(data, anyValue), agrees), { numRuns: 5_000 })
    // Each rule at its edge, on otherwise valid data.
    const base = { v: 1, task: "t", priority: "normal", enqueuedAt: 5 }
    const edges: Array<Record<string, unknown>> = [
      { timeoutMillis: 0 },
      { timeoutMillis: -1 },
      { timeoutMillis: Infinity },
      { timeoutMillis: 0.5 },
      { enqueuedAt: Number.NaN },
      { enqueuedAt: -Infinity },
      { v: 2 },
      { priority: "urgent" },
      { task: 1 },
      { key: 3 },
      { trace: { traceId: "a", spanId: "b", sampled: "yes" } },
      { trace: { traceId: "a", spanId: "b" } },
      { trace: { traceId: "a", spanId: "b", sampled: true, more: 1 } },
      { trace: [] },
      { unknown: 1 },
      // payloads that are not JSON, at the top or deep inside (a key present with undefined included)
      { payload: undefined },
      { payload: Number.NaN },
      { payload: { a: undefined } },
      { payload: [1, [Infinity]] },
      { payload: { at: new Date(0) } },
      { payload: { deep: { list: [null, "x", true, { n: 1.5 }] } } }
    ]
    for (const edge of edges) agrees({ ...base, ...edge })
    // JSON-shaped payloads, valid or spoiled anywhere inside, decide alike on both paths
    const json = fc.jsonValue()
    const spoiled = fc.tuple(json, fc.constantFrom(undefined, Number.NaN, Infinity, new Date(0))).map(([value, bad]) =>
      typeof value === "object" && value !== null ? (Array.isArray(value) ? [...value, bad] : { ...value, bad }) : [bad]
    )
    fc.assert(fc.property(fc.oneof(json, spoiled), (payload) => agrees({ ...base, payload })), { numRuns: 2_000 })
    // The shapes every producer writes take the hand-checked path and come back as they are.
    const plain = { v: 1, task: "inc", payload: 3, priority: "high", enqueuedAt: 1, key: "k" } as const
    assert.deepStrictEqual(decodeJobData(plain), Exit.succeed(plain))
  })

  it("task codecs: the shortcut for values that are their own JSON gives exactly what the schema's codec gives", () => {
    const schemas = [
      Schema.Number,
      Schema.String,
      Schema.Boolean,
      Schema.Null,
      Schema.Finite,
      Schema.Int,
      Schema.NumberFromString,
      Schema.Struct({ n: Schema.Number })
    ]
    const anyValue = fc.oneof(
      fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, "NaN", "Infinity", "12", null, undefined, true, [], {}),
      fc.double(),
      fc.string(),
      fc.boolean(),
      fc.record({ n: fc.oneof(fc.double(), fc.string()) })
    )
    const outcome = (run: () => unknown): unknown => {
      try {
        const value = run()
        return Exit.isExit(value) ? (Exit.isSuccess(value) ? { ok: value.value } : { fail: String(value) }) : {
          ok: value
        }
      } catch (error) {
        return { threw: String(error) }
      }
    }
    for (const schema of schemas) {
      const task = WorkerTask.make(`codec-${schema.ast._tag}`, { payload: schema, success: schema })
      const codecs = codecsOf(task)
      const json = Schema.toCodecJson(schema)
      const [encode, decode] = [Schema.encodeUnknownSync(json), Schema.decodeUnknownExit(json)]
      fc.assert(
        fc.property(anyValue, (value) => {
          assert.deepStrictEqual(outcome(() => codecs.encodePayload(value)), outcome(() => encode(value)))
          assert.deepStrictEqual(outcome(() => codecs.encodeSuccess(value)), outcome(() => encode(value)))
          assert.deepStrictEqual(outcome(() => codecs.decodePayload(value)), outcome(() => decode(value)))
          assert.deepStrictEqual(outcome(() => codecs.decodeSuccess(value)), outcome(() => decode(value)))
        }),
        { numRuns: 300 }
      )
    }
    // Non-finite numbers are not their own JSON: they take the codec, and come back.
    const inc = codecsOf(WorkerTask.make("codec-inc", { payload: Schema.Number, success: Schema.Number }))
    assert.strictEqual(inc.encodeSuccess(Number.NaN), "NaN")
    const back = inc.decodeSuccess("NaN")
    assert.isTrue(Exit.isSuccess(back) && Number.isNaN(back.value))
    assert.isTrue(Exit.isFailure(inc.decodePayload("12")))
  })

  it("priorities map to BullMQ's 1..4, and idempotency keys to ids BullMQ accepts", () => {
    assert.deepStrictEqual((["critical", "high", "normal", "low"] as const).map(bullPriority), [1, 2, 3, 4])
    assert.strictEqual(jobIdOf("order:42"), "k-order%3A42")
    assert.notStrictEqual(jobIdOf("a%3Ab"), jobIdOf("a:b"))
    assert.strictEqual((jobIdOf("") as { _tag: string })._tag, "InvalidConfig")
  })
})
