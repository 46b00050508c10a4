/**
 * What a job carries through Redis, and how each value is written there and read back.
 *
 * - **Job data** ({@link JobData}): the task's *name* (never code), the payload encoded with the task's own
 *   JSON codec, the priority, the attempt timeout, the retry policy as data, the fairness key and the
 *   producer's trace context. A consumer decodes it with this schema, then the payload with the task's
 *   schema, before anything runs.
 * - **Success** (BullMQ's `returnvalue`): `{ v: <success encoded with the task's JSON codec> }`.
 * - **Failure** (BullMQ's `failedReason`, a string): a marker, then the JSON of {@link Failure}: the typed
 *   error encoded with the union of the task's error schema and the library's errors, or a defect. BullMQ
 *   keeps only a string there, so the class and fields travel inside it and are decoded into the same class.
 *
 * @internal
 */
import { Exit, Schema } from "effect"
import * as SchemaIssue from "effect/SchemaIssue"
import { DistributedError } from "../../domain/DistributedError.ts"
import { OrchestratorError, WorkerCrashed } from "../../domain/OrchestratorError.ts"
import { maximumIntervalOf, RetryPolicy } from "../../domain/RetryPolicy.ts"
import { levels, rank, TaskPriority } from "../../domain/TaskPriority.ts"
import type * as WorkerTask from "../../domain/WorkerTask.ts"
import { plainCheck } from "../wire/WireCodec.ts"

/** The producer's span, so the consumer's span of the job is its child. */
export const TraceContext = Schema.Struct({
  traceId: Schema.String,
  spanId: Schema.String,
  sampled: Schema.Boolean
})

/** Schema of a job's data in Redis (version 1). */
export const JobData = Schema.Struct({
  v: Schema.Literal(1),
  /** The `WorkerTask` name: consumers look it up among the definitions they serve. */
  task: Schema.String,
  /** The payload encoded with the task's JSON codec; absent for `void` payloads. */
  payload: Schema.optionalKey(Schema.Unknown),
  priority: TaskPriority,
  /** Hard limit on each attempt on a consumer. */
  timeoutMillis: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  retry: Schema.optionalKey(RetryPolicy),
  /** Fairness key for the consumer's local scheduler. */
  key: Schema.optionalKey(Schema.String),
  trace: Schema.optionalKey(TraceContext),
  /** When the producer accepted the job (epoch ms): the retry policy's deadline counts from here. */
  enqueuedAt: Schema.Finite
})

/** A job's data, decoded. */
export type JobData = typeof JobData.Type

/**
 * Job data as BullMQ stores it (JSON). Every field of a decoded `JobData` is already its JSON form (strings,
 * finite numbers, booleans, the payload encoded by its task's codec), so nothing is converted on the producer's
 * per-job path; the consumer decodes it with the schema.
 */
export const encodeJobData = (data: JobData): typeof JobData.Encoded => data
// Compiled by the first job that needs it, not at import: the barrel loads this module for every program.
let decodeWithSchemaExit: ((input: unknown) => Exit.Exit<JobData, Schema.SchemaError>) | undefined
const decodeWithSchema = (input: unknown): Exit.Exit<JobData, Schema.SchemaError> =>
  (decodeWithSchemaExit ??= Schema.decodeUnknownExit(Schema.toCodecJson(JobData)))(input)
const priorities: ReadonlySet<unknown> = new Set(levels)
const plainKeys: ReadonlySet<string> = new Set([
  "v",
  "task",
  "payload",
  "priority",
  "timeoutMillis",
  "key",
  "trace",
  "enqueuedAt"
])
const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value)

/**
 * The schema's rules for the data of a job without a retry policy, checked by hand: a consumer decodes every job
 * it takes, and the generic decoder costs it several microseconds a job. Data of any other shape (a retry policy,
 * a field it does not know, a field that breaks a rule) is left to the schema, which also says what is wrong.
 */
/**
 * Whether a value is what the job-data schema's JSON codec accepts as JSON: null, a string, a boolean, a finite
 * number, or an array or plain object of those (no `undefined`, even as a property's value). Data read from
 * Redis always is; anything else goes to the schema, which says where it is not.
 */
const isJsonValue = (value: unknown): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i])) return false
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key in value) if (!isJsonValue((value as { readonly [key: string]: unknown })[key])) return false
      return true
    }
    default:
      return false
  }
}

const plainJobData = (input: unknown): JobData | undefined => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined
  const data = input as { readonly [key: string]: unknown }
  if (
    data["v"] !== 1 || typeof data["task"] !== "string" || !priorities.has(data["priority"]) ||
    !isFiniteNumber(data["enqueuedAt"])
  ) return undefined
  for (const key in data) if (!plainKeys.has(key)) return undefined
  if ("timeoutMillis" in data && !(isFiniteNumber(data["timeoutMillis"]) && data["timeoutMillis"] > 0)) return undefined
  if ("key" in data && typeof data["key"] !== "string") return undefined
  if ("payload" in data && !isJsonValue(data["payload"])) return undefined
  if ("trace" in data) {
    const trace = data["trace"]
    if (typeof trace !== "object" || trace === null || Array.isArray(trace)) return undefined
    const { sampled, spanId, traceId } = trace as { readonly [key: string]: unknown }
    if (typeof traceId !== "string" || typeof spanId !== "string" || typeof sampled !== "boolean") return undefined
    if (Object.keys(trace).length !== 3) return undefined
  }
  return data as JobData
}

/** Decodes job data read from Redis. */
export const decodeJobData = (input: unknown): Exit.Exit<JobData, Schema.SchemaError> => {
  const plain = plainJobData(input)
  return plain === undefined ? decodeWithSchema(input) : Exit.succeed(plain)
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first issue of a schema error, with its path: what a `PayloadInvalid` or `JobDataInvalid` says. */
export const describeIssue = (error: unknown): string => {
  if (!Schema.isSchemaError(error)) return error instanceof globalThis.Error ? error.message : String(error)
  const first = formatter(error.issue).issues[0]
  if (first === undefined) return error.message
  const path = (first.path ?? []).map((segment) =>
    typeof segment === "object" && segment !== null ? String((segment as { key: PropertyKey }).key) : String(segment)
  )
  return path.length > 0 ? `${first.message} at ${path.join(".")}` : first.message
}

/**
 * Where a value encoded for Redis still holds binary data (a typed array, a `DataView` or an `ArrayBuffer`), with its
 * kind: `"data (Uint8Array)"`, `"items.0 (Float64Array)"`; undefined when it holds none. BullMQ stores JSON, which
 * writes a `Uint8Array` as an object of numbered fields that no longer decodes. That is the case of the schemas
 * that skip JSON to cross to a worker thread as binary (`WorkerTask.Uint8Array`, ...); Effect's own
 * `Schema.Uint8Array` is base64 in JSON and travels.
 */
export const binaryAt = (value: unknown, path: ReadonlyArray<string | number> = []): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    const where = path.length > 0 ? path.join(".") : "the value itself"
    return `${where} (${value.constructor.name})`
  }
  // Only objects can hold binary data: the path grows for those alone, so a long array of numbers costs a loop.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const found = typeof item === "object" && item !== null ? binaryAt(item, [...path, i]) : undefined
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const key in value) {
    const item: unknown = (value as { readonly [key: string]: unknown })[key]
    const found = typeof item === "object" && item !== null ? binaryAt(item, [...path, key]) : undefined
    if (found !== undefined) return found
  }
  return undefined
}

/** What a job's payload or result says when it holds binary data that Redis (JSON) would not keep. */
export const binaryDetail = (where: string): string =>
  `binary data at ${where} cannot travel through Redis, which stores JSON; in a task enqueued with the ` +
  `Producer, use Effect's Schema.Uint8Array (base64 in JSON) rather than the WorkerTask binary schemas`

/** BullMQ's priority for a level: 1 is served first; every job carries one, so none jumps the levels. */
export const bullPriority = (priority: TaskPriority): number => rank(priority) + 1

/** The failure a job ends with: a typed error (of the task or of the library), or a defect. */
export interface Failure {
  readonly _tag: "Fail" | "Die"
  readonly error?: unknown
  readonly defect?: unknown
}

interface Codecs {
  readonly encodePayload: (value: unknown) => unknown
  readonly decodePayload: (json: unknown) => ReturnType<ReturnType<typeof Schema.decodeUnknownExit>>
  readonly encodeSuccess: (value: unknown) => unknown
  readonly decodeSuccess: (json: unknown) => ReturnType<ReturnType<typeof Schema.decodeUnknownExit>>
  readonly encodeFailure: (failure: Failure) => string
  readonly decodeFailure: (reason: string) => Failure
}

/** Prefix of a `failedReason` written by a consumer; anything else was written by BullMQ itself. */
export const failureMarker = "effect-orchestrator/failure:"

const failureSchema = (task: WorkerTask.Any) =>
  Schema.toCodecJson(Schema.Union([
    Schema.Struct({
      _tag: Schema.Literal("Fail"),
      error: Schema.Union([task.error, OrchestratorError, DistributedError])
    }),
    Schema.Struct({ _tag: Schema.Literal("Die"), defect: Schema.Defect({ includeStack: true }) })
  ]))

const cache = new WeakMap<WorkerTask.Any, Codecs>()

// The codec is cheap once warm (under 1 µs), but each job calls two on each side, after a pause in which other
// processes evicted it from the CPU's caches: measured cold, 18–23 µs each. Values that are their own JSON skip it.
const encoderOf = (schema: WorkerTask.AnySchema): (value: unknown) => unknown => {
  const encode = Schema.encodeUnknownSync(Schema.toCodecJson(schema))
  const check = plainCheck(schema, "json")
  return check === undefined ? encode : (value) => check(value) ? value : encode(value)
}

const decoderOf = (
  schema: WorkerTask.AnySchema
): (json: unknown) => ReturnType<ReturnType<typeof Schema.decodeUnknownExit>> => {
  const decode = Schema.decodeUnknownExit(Schema.toCodecJson(schema))
  const check = plainCheck(schema, "json")
  return check === undefined ? decode : (json) => check(json) ? Exit.succeed(json) : decode(json)
}

/** The JSON codecs of a task's values, built once per definition. */
export const codecsOf = (task: WorkerTask.Any): Codecs => {
  let codecs = cache.get(task)
  if (codecs !== undefined) return codecs
  const failure = failureSchema(task)
  const encodeFailure = Schema.encodeUnknownSync(failure)
  const decodeFailure = Schema.decodeUnknownExit(failure)
  codecs = {
    encodePayload: encoderOf(task.payload),
    decodePayload: decoderOf(task.payload),
    encodeSuccess: encoderOf(task.success),
    decodeSuccess: decoderOf(task.success),
    encodeFailure: (value) => {
      try {
        return failureMarker + JSON.stringify(encodeFailure(value))
      } catch (error) {
        // An error outside the task's schema is a bug in the handler: it travels as a defect.
        return failureMarker +
          JSON.stringify(encodeFailure({ _tag: "Die", defect: value.error ?? value.defect ?? error }))
      }
    },
    decodeFailure: (reason) => {
      if (reason.startsWith(failureMarker)) {
        try {
          const exit = decodeFailure(JSON.parse(reason.slice(failureMarker.length)))
          if (exit._tag === "Success") return exit.value as Failure
        } catch {
          // not JSON: fall through
        }
      }
      // BullMQ's own failures: a job whose consumers kept dying (stalled too often) or lost its lock.
      return {
        _tag: "Fail",
        error: new WorkerCrashed({ workerId: -1, exitCode: null, signal: null, reason: "terminated", detail: reason })
      }
    }
  }
  cache.set(task, codecs)
  return codecs
}

/**
 * The delay before retry `retry` (1 for the first), as the in-process `Retry` computes it:
 * `min(initial × coefficient^(retry−1), maximum) × f`, `f` uniform in `[1 − jitter, 1 + jitter]`.
 */
export const backoffMillis = (policy: RetryPolicy, retry: number, random: number = Math.random()): number => {
  const base = Math.min(
    policy.initialInterval * Math.pow(policy.backoffCoefficient, retry - 1),
    maximumIntervalOf(policy)
  )
  return Math.max(0, Math.round(base * (1 - policy.jitter + 2 * policy.jitter * random)))
}

/** Tags that never retry whatever the policy says: running the job again cannot help. */
export const neverRetried: ReadonlySet<string> = new Set([
  "UnknownTask",
  "PayloadInvalid",
  "JobDataInvalid",
  "TaskCancelled",
  "InvalidConfig"
])

/** Whether a typed failure is retried under the policy. */
export const isRetryable = (policy: RetryPolicy | undefined, error: unknown): boolean => {
  const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
  if (typeof tag === "string" && neverRetried.has(tag)) return false
  if (policy === undefined) return false
  return !(typeof tag === "string" && policy.nonRetryable.includes(tag))
}
