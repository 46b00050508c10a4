/**
 * The wire codecs of task values: each schema's JSON codec (`Schema.toCodecJson`), with a fast path for
 * primitive schemas, and errors that name the path and the offending value. Loaded by the pool, and by workers
 * that serve typed tasks (whose definitions load `effect/Schema` anyway).
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { AnySchema } from "../../domain/WorkerTask.ts"
import { CodecError } from "./Protocol.ts"
import type { ValueCodec } from "./Protocol.ts"

const render = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? value.slice(0, 80) + "…" : value)
  if (typeof value === "bigint") return `a bigint (${value}n)`
  if (typeof value === "function") return `a function (${value.name || "anonymous"})`
  if (typeof value === "symbol") return `a symbol (${value.description ?? ""})`
  if (value === undefined) return "undefined"
  if (value === null || typeof value !== "object") return String(value)
  if (Array.isArray(value)) return `an array of ${value.length}`
  const name = Object.getPrototypeOf(value)?.constructor?.name
  try {
    const json = JSON.stringify(value)
    if (json !== undefined) {
      return (name && name !== "Object" ? `${name} ` : "") + (json.length > 120 ? json.slice(0, 120) + "…" : json)
    }
  } catch {
    // not JSON: fall through to the constructor name
  }
  return `a ${name ?? "object"}`
}

/** The value at `path` inside `input`, or undefined where the path leaves it (shared with `ConfigValidation`). */
export const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current: unknown = input
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

/**
 * Where inside `value` the first value that is not JSON sits (a function, a symbol, a bigint, `undefined`, a
 * non-finite number, an object that is not a plain object or array), with that value; undefined when all is
 * JSON. A JSON codec reports the whole value it could not take; this names the culprit.
 */
const firstNonJson = (
  value: unknown,
  depth = 0
): { readonly path: ReadonlyArray<PropertyKey>; readonly value: unknown } | undefined => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path: [], value }
  if (typeof value !== "object" || depth > 32) return depth > 32 ? undefined : { path: [], value }
  const proto = Object.getPrototypeOf(value)
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return { path: [], value }
  for (const key of Object.keys(value)) {
    const inner = firstNonJson((value as Record<string, unknown>)[key], depth + 1)
    if (inner !== undefined) {
      return { path: [Array.isArray(value) ? Number(key) : key, ...inner.path], value: inner.value }
    }
  }
  return undefined
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first issue of a schema failure, its message and its path as plain keys (shared with `ConfigValidation`). */
export const firstIssue = (
  issue: SchemaIssue.Issue
): { readonly message: string; readonly path: ReadonlyArray<PropertyKey> } | undefined => {
  const first = formatter(issue).issues[0]
  if (first === undefined) return undefined
  const path = (first.path ?? []).map((segment) =>
    typeof segment === "object" && segment !== null ? (segment as { key: PropertyKey }).key : segment
  )
  return { message: first.message, path }
}

/** Describes a schema failure: the first issue, its path, and the offending value. */
export const describeSchemaError = (error: unknown, input: unknown): string => {
  if (!Schema.isSchemaError(error)) return error instanceof globalThis.Error ? error.message : String(error)
  const first = firstIssue(error.issue)
  if (first === undefined) return error.message
  let path = first.path
  let value = valueAt(input, path)
  if (/JSON/.test(first.message)) {
    const culprit = firstNonJson(value)
    if (culprit !== undefined) {
      path = [...path, ...culprit.path]
      value = culprit.value
    }
  }
  const where = path.length > 0 ? ` at ${path.map((p) => `[${JSON.stringify(String(p))}]`).join("")}` : ""
  return `${first.message}${where}, got ${render(value)}`
}

/**
 * For a schema whose values are their own wire form, the test that a value is in that form; undefined for any
 * other schema (checks, transformations, composites). `"clone"`: what structured clone carries unchanged (the
 * pool's messages). `"json"`: what JSON carries unchanged (jobs in Redis), so no non-finite numbers, bigints or
 * `undefined`, and no `Unknown`, whose JSON codec refuses what is not JSON. Values that pass skip the codec, which
 * still runs for anything else and says what is wrong.
 */
export const plainCheck = (
  schema: AnySchema,
  form: "clone" | "json"
): ((value: unknown) => boolean) | undefined => {
  const ast = schema.ast
  if (ast.checks !== undefined || ast.encoding !== undefined || ast.context !== undefined) return undefined
  const clone = form === "clone"
  switch (ast._tag) {
    case "Number":
      return clone ? (v) => typeof v === "number" : (v) => typeof v === "number" && Number.isFinite(v)
    case "String":
      return (v) => typeof v === "string"
    case "Boolean":
      return (v) => typeof v === "boolean"
    case "BigInt":
      return clone ? (v) => typeof v === "bigint" : undefined
    case "Unknown":
    case "Any":
      return clone ? () => true : undefined
    case "Void":
    case "Undefined":
      return clone ? (v) => v === undefined : undefined
    case "Null":
      return (v) => v === null
    default:
      return undefined
  }
}

const codecs = new WeakMap<AnySchema, ValueCodec>()

/** The wire codec of a schema (cached). The JSON codec is only built when a value needs it. */
export const codecFor = (schema: AnySchema): ValueCodec => {
  const cached = codecs.get(schema)
  if (cached !== undefined) return cached
  let sync: { readonly encode: (u: unknown) => unknown; readonly decode: (u: unknown) => unknown } | undefined
  const json = () => {
    if (sync === undefined) {
      const codec = Schema.toCodecJson(schema)
      sync = { encode: Schema.encodeUnknownSync(codec), decode: Schema.decodeUnknownSync(codec) }
    }
    return sync
  }
  const encode = (value: unknown): unknown => {
    try {
      return json().encode(value)
    } catch (error) {
      throw new CodecError(describeSchemaError(error, value))
    }
  }
  const decode = (value: unknown): unknown => {
    try {
      return json().decode(value)
    } catch (error) {
      throw new CodecError(describeSchemaError(error, value))
    }
  }
  const check = plainCheck(schema, "clone")
  // For plain schemas the codec only runs to produce the schema's own error message.
  const codec: ValueCodec = check === undefined ? { encode, decode } : {
    encode: (value) => check(value) ? value : encode(value),
    decode: (value) => check(value) ? value : decode(value)
  }
  codecs.set(schema, codec)
  return codec
}

// Compiled at the first defect, not at import: every program that imports the library loads this module.
let decodeDefectSync: ((encoded: unknown) => unknown) | undefined

/** Decodes a defect encoded by `encodeDefect`: an `Error` with its name, message, stack and cause. */
export const decodeDefect = (encoded: unknown): unknown => {
  try {
    decodeDefectSync ??= Schema.decodeUnknownSync(Schema.toCodecJson(Schema.Defect({ includeStack: true })))
    return decodeDefectSync(encoded)
  } catch {
    return encoded
  }
}
