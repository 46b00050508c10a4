/**
 * Decodes configuration and turns the first schema issue into an `InvalidConfig` error that names the field
 * (prefixed by its section, as in `pool.maxWorkers`) and the offending value.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, Schema } from "effect"
import { InvalidConfig } from "../../domain/OrchestratorError.ts"
import { firstIssue, valueAt } from "../wire/WireCodec.ts"

const render = (value: unknown): string => {
  switch (typeof value) {
    // not through JSON, which writes NaN and Infinity as null
    case "number":
      return String(value)
    case "bigint":
      return `${value}n`
    case "function":
      return value.name === "" ? "a function" : `a function (${value.name})`
    default:
      try {
        // undefined for what JSON cannot write (undefined, a symbol): its String then
        return JSON.stringify(value) ?? String(value)
      } catch {
        return String(value)
      }
  }
}

/**
 * Decodes `input` with `schema`; on failure returns an `InvalidConfig` for the first issue.
 * `section` prefixes the field path (`"pool"` gives `pool.maxWorkers`).
 */
/**
 * The input with every key whose value is `undefined` left out, in plain objects at any depth: a key written as
 * `undefined` (which TypeScript allows for an optional field unless `exactOptionalPropertyTypes` is on, and which
 * spreading options often produces) means "the default", as an absent key does.
 */
const withoutUndefined = (input: unknown): unknown => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input
  const proto = Object.getPrototypeOf(input)
  if (proto !== Object.prototype && proto !== null) return input
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(input)) {
    const cleaned = withoutUndefined(value)
    if (cleaned !== value || value === undefined) out ??= { ...(input as Record<string, unknown>) }
    if (value === undefined) delete out![key]
    else if (cleaned !== value) out![key] = cleaned
  }
  return out ?? input
}

export const decodeConfigExit = <S extends Schema.Codec<any, any, never, never>>(
  schema: S,
  section?: string
) => {
  const decode = Schema.decodeUnknownExit(schema)
  return (input: unknown): Exit.Exit<S["Type"], InvalidConfig> => {
    const exit = decode(withoutUndefined(input ?? {}))
    if (Exit.isSuccess(exit)) return Exit.succeed(exit.value)
    // Stryker disable next-line ConditionalExpression: equivalent, a reason that is not a Fail has no `error`, and the check below then returns the exit as it is
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (error === undefined || !Schema.isSchemaError(error.error)) return exit as never
    const first = firstIssue(error.error.issue)
    // Stryker disable next-line OptionalChaining,ArrayDeclaration: equivalent, firstIssue is undefined only for an issue without a leaf, which a failed decode never gives
    const path = first?.path ?? []
    const field = [...(section === undefined ? [] : [section]), ...path.map(String)].join(".") || "(root)"
    return Exit.fail(
      new InvalidConfig({
        field,
        value: render(valueAt(input, path)),
        // Stryker disable next-line OptionalChaining: equivalent, see `path` above
        detail: first?.message ?? error.error.message
      })
    )
  }
}

/** Effect form of {@link decodeConfigExit}. */
export const decodeConfig = <S extends Schema.Codec<any, any, never, never>>(schema: S, section?: string) => {
  const decode = decodeConfigExit(schema, section)
  return (input: unknown): Effect.Effect<S["Type"], InvalidConfig> => Effect.suspend(() => decode(input))
}

/**
 * The milliseconds of a timeout given as a `Duration.Input`: a positive duration, or `Infinity` for "no
 * timeout". Anything else (negative, zero, NaN, unparsable) is an `InvalidConfig` naming `field`.
 */
export const timeoutMillis = (input: Duration.Input, field: string): number | InvalidConfig => {
  const decoded = Duration.fromInput(input)
  const millis = decoded._tag === "Some" ? Duration.toMillis(decoded.value) : Number.NaN
  return millis > 0
    ? millis
    : new InvalidConfig({ field, value: String(input), detail: "expected a positive duration" })
}
