// The wire format of the distributed queue, without Redis: backoff, failure encoding, retry rules, job ids.
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import { RetryPolicy } from "../../src/domain/RetryPolicy.ts"
import {
  backoffMillis,
  bullPriority,
  codecsOf,
  failureMarker,
  isRetryable
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

  it("priorities map to BullMQ's 1..4, and idempotency keys to ids BullMQ accepts", () => {
    assert.deepStrictEqual((["critical", "high", "normal", "low"] as const).map(bullPriority), [1, 2, 3, 4])
    assert.strictEqual(jobIdOf("order:42"), "k-order%3A42")
    assert.notStrictEqual(jobIdOf("a%3Ab"), jobIdOf("a:b"))
    assert.strictEqual((jobIdOf("") as { _tag: string })._tag, "InvalidConfig")
  })
})
