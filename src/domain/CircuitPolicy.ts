/**
 * Circuit breaker policies as plain data. A policy decides when a circuit opens (`trip`: after consecutive
 * failures, or when the failure rate over the last calls reaches a threshold) and how long it stays open. Repeated
 * openings can back off: opening n lasts `min(openDuration × openBackoffCoefficient^(n−1), maximum)`. Durations
 * are `Duration.Input`s (a number is milliseconds, or `"30 seconds"`, or a `Duration`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CircuitPolicy } from "effect-orchestrator"
 *
 * // Open after 5 failures in a row, for 1 s, then 2 s, 4 s, ... up to 30 s on repeated openings.
 * const policy = Schema.decodeUnknownSync(CircuitPolicy.CircuitPolicy)({
 *   trip: "consecutive",
 *   consecutiveFailures: 5,
 *   openDuration: "1 second",
 *   openBackoffCoefficient: 2,
 *   maximumOpenDuration: "30 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as DurationInput from "./DurationInput.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const withDefault = <S extends Schema.Top>(value: S["Encoded"]) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

/** Schema of a circuit policy. Absent fields take their defaults when decoded. */
export const CircuitPolicy = Schema.Struct({
  /** `consecutive`: open after `consecutiveFailures` failures in a row. `rate`: open on the failure rate. */
  trip: Schema.Literals(["consecutive", "rate"]).pipe(withDefault("consecutive")),
  /** Failures in a row that open the circuit (`trip: "consecutive"`). */
  consecutiveFailures: PositiveInt.pipe(withDefault(5)),
  /** Fraction of failed calls in the window that opens the circuit (`trip: "rate"`). */
  failureRateThreshold: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(withDefault(0.5)),
  /** How many of the last calls the rate is computed over (`trip: "rate"`). */
  rateWindowSize: PositiveInt.pipe(withDefault(100)),
  /** Calls needed in the window before the rate can open the circuit. Absent: the window size. */
  rateMinimumCalls: Schema.optionalKey(PositiveInt),
  /** How long the first opening lasts (default 30 s); then one probe call is let through (half-open). */
  openDuration: DurationInput.Positive.pipe(withDefault(30_000)),
  /** Growth of the open duration on consecutive openings; 1 keeps it constant. */
  openBackoffCoefficient: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1)).pipe(withDefault(1)),
  /** Cap on the open duration. Absent: 100 × `openDuration`. */
  maximumOpenDuration: Schema.optionalKey(DurationInput.Positive)
}).check(
  Schema.makeFilter((policy) =>
    policy.rateMinimumCalls === undefined || policy.rateMinimumCalls <= policy.rateWindowSize ||
    { path: ["rateMinimumCalls"], issue: `must be at most rateWindowSize (${policy.rateWindowSize})` }
  ),
  Schema.makeFilter((policy) =>
    policy.maximumOpenDuration === undefined || policy.maximumOpenDuration >= policy.openDuration ||
    { path: ["maximumOpenDuration"], issue: `must be at least openDuration (${policy.openDuration} ms)` }
  )
)

/** A decoded circuit policy: its durations are in milliseconds. */
export type CircuitPolicy = typeof CircuitPolicy.Type

/** A circuit policy as written by a user: every field optional, durations as `Duration.Input`. */
export type CircuitPolicyInput = typeof CircuitPolicy.Encoded

/** The cap on the open duration, in ms: `maximumOpenDuration`, or 100 × `openDuration` when absent. */
export const maximumOpenDurationOf = (policy: CircuitPolicy): number =>
  policy.maximumOpenDuration ?? 100 * policy.openDuration
