/**
 * Durations as users give them, and as the library keeps them.
 *
 * The rule, across the whole API: every duration you pass in (a timeout, an interval, a deadline, a grace
 * period) is a `Duration.Input`, as everywhere in Effect: a number of milliseconds, a string such as
 * `"2 seconds"` or `"500 millis"`, or a `Duration` value; its name has no unit (`timeout`, `initialInterval`,
 * `openDuration`). Every figure the library reports back (stats, `TaskResult.queueWaitMillis`, error fields such
 * as `TaskTimeout.timeoutMillis`, metric values) is a plain number whose name ends in its unit (`…Millis`).
 *
 * The schemas here decode a `Duration.Input` to a finite number of milliseconds and encode it back as that
 * number, so a decoded policy or configuration holds milliseconds and its encoded form (the one sent to Redis)
 * is plain JSON numbers. A value that does not parse, or is out of range, is a schema issue at its field, which
 * configuration decoding reports as `InvalidConfig` naming the field and the value.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DurationInput } from "effect-orchestrator"
 *
 * const decode = Schema.decodeUnknownSync(DurationInput.NonNegative)
 * decode("2 seconds") // 2000
 * decode(250) // 250
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema, SchemaIssue, SchemaTransformation } from "effect"

const isInput = (u: unknown): u is Duration.Input =>
  typeof u === "number" || typeof u === "string" || typeof u === "bigint" || Duration.isDuration(u) ||
  (typeof u === "object" && u !== null)

/** Any `Duration.Input`, undecoded: the encoded side of the schemas below. */
const Input = Schema.declare(isInput, { expected: "a duration (milliseconds, \"2 seconds\" or a Duration)" })

const toMillis = SchemaTransformation.transformEffect<number, Duration.Input>({
  decode: (input, options) => {
    // A number is taken as it is, so that NaN stays NaN and is rejected (Duration.millis(NaN) would be zero).
    if (typeof input === "number") return Effect.succeed(input)
    return Option.match(Duration.fromInput(input), {
      onNone: () =>
        Effect.fail(
          new SchemaIssue.InvalidValue(
            { expected: "a duration (milliseconds, \"2 seconds\" or a Duration)" },
            input,
            options
          )
        ),
      onSome: (duration) => Effect.succeed(Duration.toMillis(duration))
    })
  },
  encode: (millis) => Effect.succeed(millis)
})

const millis = <S extends Schema.Top & { readonly Type: number; readonly Encoded: number }>(to: S) =>
  Input.pipe(Schema.decodeTo(to as unknown as Schema.Codec<number, number>, toMillis))

/** A duration of zero or more, given as a `Duration.Input` and decoded to finite milliseconds. */
export const NonNegative = millis(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)))

/** A duration of more than zero, given as a `Duration.Input` and decoded to finite milliseconds. */
export const Positive = millis(Schema.Finite.check(Schema.isGreaterThan(0)))
