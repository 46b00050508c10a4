/**
 * Retry policies as plain data, with the fields users know from Temporal. A policy is a Schema, so it can be
 * stored, logged, validated and sent along with a task.
 *
 * Delay before retry n (n = 1 for the first retry) is
 * `min(initialInterval × backoffCoefficient^(n−1), maximumInterval)`, then multiplied by a random factor in
 * `[1 − jitter, 1 + jitter]`. Durations are `Duration.Input`s (a number is milliseconds, or `"2 seconds"`, or a
 * `Duration`); the decoded policy holds them in milliseconds.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RetryPolicy } from "effect-orchestrator"
 *
 * const policy = Schema.decodeUnknownSync(RetryPolicy.RetryPolicy)({
 *   initialInterval: "100 millis",
 *   maximumAttempts: 5,
 *   nonRetryable: ["ValidationError"]
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as DurationInput from "./DurationInput.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** Schema of a retry policy. Absent fields take their defaults when decoded. */
export const RetryPolicy = Schema.Struct({
  /** Delay before the first retry. Default 100 ms. */
  initialInterval: DurationInput.NonNegative.pipe(Schema.withDecodingDefaultKey(Effect.succeed(100))),
  /** Growth factor of the delay between retries; 1 means constant delay. */
  backoffCoefficient: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(2))
  ),
  /** Cap on the delay between retries. Absent: 100 × the initial interval, as in Temporal. */
  maximumInterval: Schema.optionalKey(DurationInput.NonNegative),
  /**
   * Total attempts, the first included. 1 means no retry. Default 3, so an empty policy (`retry: {}`) retries
   * twice; a task with no policy at all is not retried.
   */
  maximumAttempts: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
  /**
   * Random spread of each delay, as a fraction: 0.2 (the default) means ×[0.8, 1.2]. 0 turns jitter off, which
   * specs on the `TestClock` need when they assert exact delays.
   */
  jitter: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.2))
  ),
  /** `_tag`s of errors that are never retried. */
  nonRetryable: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  /** Timeout of each attempt. */
  attemptTimeout: Schema.optionalKey(DurationInput.Positive),
  /** Deadline for all attempts together, waits included. */
  deadline: Schema.optionalKey(DurationInput.Positive)
}).check(
  Schema.makeFilter((policy) =>
    policy.maximumInterval === undefined || policy.maximumInterval >= policy.initialInterval ||
    {
      path: ["maximumInterval"],
      issue: `must be at least initialInterval (${policy.initialInterval} ms)`
    }
  )
)

/** A decoded retry policy: its durations are in milliseconds. */
export type RetryPolicy = typeof RetryPolicy.Type

/** A retry policy as written by a user: every field optional, durations as `Duration.Input`. */
export type RetryPolicyInput = typeof RetryPolicy.Encoded

/** A policy that runs a task once and never retries it (timeouts still apply when given). */
export const noRetry: RetryPolicyInput = { maximumAttempts: 1 }

/** The cap on the delay between retries, in ms: `maximumInterval`, or 100 × the initial interval when absent. */
export const maximumIntervalOf = (policy: RetryPolicy): number => policy.maximumInterval ?? 100 * policy.initialInterval
