/**
 * Typed task definitions shared by the main side and the worker side of a worker pool: a name plus the
 * Schemas of the payload, the success value and the error. The main side calls `WorkerPool.run(task, payload)`;
 * a worker entry file serves a group of definitions with Effect handlers (`WorkerRuntime.serve`).
 *
 * Values cross the thread or process boundary through each schema's JSON codec (`Schema.toCodecJson`) and
 * then structured clone, so classes (tagged errors, `Option`, `Date`, ...) arrive as the same class. Binary
 * data uses the schemas below ({@link Float64Array}, {@link Uint8Array}, ...), which skip JSON and are cloned
 * or, with `transfer: true`, moved.
 *
 * This module is imported inside workers: it uses deep `effect/*` imports only, which halves worker boot time.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { WorkerTask } from "effect-orchestrator"
 *
 * class FibTooBig extends Schema.TaggedError<FibTooBig>()("FibTooBig", { n: Schema.Number }) {}
 *
 * export const Fib = WorkerTask.make("fib", { payload: Schema.Number, success: Schema.Number, error: FibTooBig })
 * export const Sum = WorkerTask.make("sum", {
 *   payload: WorkerTask.Float64Array,
 *   success: Schema.Number,
 *   transfer: true, // the array's buffer is moved to the worker, not copied
 *   releasePayload: true // and freed there once the call has answered
 * })
 * export const MathTasks = WorkerTask.group(Fib, Sum)
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"

/** A schema usable across the boundary: it needs no services to encode or decode. */
export type AnySchema = Schema.Codec<any, any, never, never>

/** A task definition: its name and the schemas of what goes in and what comes out. */
export interface WorkerTask<
  out Name extends string,
  out Payload extends AnySchema,
  out Success extends AnySchema,
  out Error extends AnySchema
> {
  readonly _tag: "WorkerTask"
  readonly name: Name
  readonly payload: Payload
  readonly success: Success
  readonly error: Error
  /**
   * When true, the `ArrayBuffer`s found in the encoded payload (main to worker) and the encoded success value
   * (worker to main) are moved instead of copied: the sender's buffer is detached after the send. Only buffers
   * that a view covers entirely are moved; slices of a larger buffer (such as Node's pooled `Buffer`s) and
   * `SharedArrayBuffer`s are copied. Child-process pools always copy.
   */
  readonly transfer: boolean
  /**
   * When true, the worker frees the `ArrayBuffer`s of each call's payload (those that views cover entirely, or
   * bare buffers, in arrays and plain objects) as soon as the call has answered, instead of leaving them to its
   * garbage collector. Worth it for large binary payloads: V8 runs a full collection of the worker's heap for
   * about every 64 MB of buffers a thread receives, and with `effect` loaded that heap is about four times a
   * bare thread's (measured: 200 × 1 MiB arrays, about 1.4× the throughput for 60% of the CPU time).
   *
   * - The handler must not keep a payload buffer after its Effect ends (in a cache, or in a fiber it forks): a
   *   kept array reads as empty (detached) afterwards; copy what you need to keep. A buffer that another call
   *   sent in the same message also uses is kept. Buffers in the success value are sent (or moved) first.
   * - Freeing detaches the buffer. In a thread that has detached one (as moving any buffer out of it does too),
   *   V8's optimised code for a loop that tests `i < array.length` on every iteration runs several times
   *   slower: read the length once before such loops (`const n = xs.length`).
   */
  readonly releasePayload: boolean
}

/** Any task definition. */
export type Any = WorkerTask<string, AnySchema, AnySchema, AnySchema>

/** The payload a caller passes for task `T`. */
export type Payload<T extends Any> = T["payload"]["Type"]
/** The value task `T` succeeds with. */
export type Success<T extends Any> = T["success"]["Type"]
/** The typed error task `T` may fail with. */
export type Error<T extends Any> = T["error"]["Type"]

/** Names starting with this prefix are reserved for the library's built-in tasks. */
export const reservedPrefix = "__orchestrator/"

/**
 * Defines a task. `payload` and `success` default to `Schema.Void`, `error` to `Schema.Never`.
 * Throws when the name is empty or reserved: definitions are module constants, so that is a programming error.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { WorkerTask } from "effect-orchestrator"
 *
 * const Resize = WorkerTask.make("resize", {
 *   payload: Schema.Struct({ width: Schema.Number, height: Schema.Number }),
 *   success: Schema.String
 * })
 * ```
 */
export const make = <
  const Name extends string,
  Payload extends AnySchema = typeof Schema.Void,
  Success extends AnySchema = typeof Schema.Void,
  Error extends AnySchema = typeof Schema.Never
>(name: Name, options: {
  readonly payload?: Payload
  readonly success?: Success
  readonly error?: Error
  readonly transfer?: boolean
  readonly releasePayload?: boolean
} = {}): WorkerTask<Name, Payload, Success, Error> => {
  if (name.length === 0) throw new TypeError("WorkerTask.make: the task name must not be empty")
  if (name.startsWith(reservedPrefix)) {
    throw new TypeError(`WorkerTask.make: names starting with "${reservedPrefix}" are reserved (got "${name}")`)
  }
  return {
    _tag: "WorkerTask",
    name,
    payload: (options.payload ?? Schema.Void) as Payload,
    success: (options.success ?? Schema.Void) as Success,
    error: (options.error ?? Schema.Never) as Error,
    transfer: options.transfer ?? false,
    releasePayload: options.releasePayload ?? false
  }
}

/** A set of task definitions that one worker entry serves. */
export interface Group<out Tasks extends Any> {
  readonly _tag: "WorkerTaskGroup"
  readonly tasks: ReadonlyArray<Tasks>
}

/** The definitions of a group. */
export type Tasks<G extends Group<Any>> = G extends Group<infer T> ? T : never

/**
 * Groups definitions for a worker entry. Throws on duplicate names.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { WorkerTask } from "effect-orchestrator"
 *
 * const Inc = WorkerTask.make("inc", { payload: Schema.Number, success: Schema.Number })
 * const Tasks = WorkerTask.group(Inc)
 * ```
 */
export const group = <const T extends ReadonlyArray<Any>>(...tasks: T): Group<T[number]> => {
  const seen = new Set<string>()
  for (const task of tasks) {
    if (seen.has(task.name)) throw new TypeError(`WorkerTask.group: the task name "${task.name}" appears twice`)
    seen.add(task.name)
  }
  return { _tag: "WorkerTaskGroup", tasks }
}

/** The handler of task `T`: an Effect program from the decoded payload to the success value or typed error. */
export type Handler<T extends Any> = (payload: Payload<T>) => Effect.Effect<Success<T>, Error<T>>

/** One handler per task of group `G`, keyed by task name. */
export type Handlers<G extends Group<Any>> = {
  readonly [T in Tasks<G> as T["name"]]: Handler<T>
}

const passthroughLink = Schema.link<unknown>()(Schema.Any, {
  decode: SchemaGetter.passthrough(),
  encode: SchemaGetter.passthrough()
})

/**
 * Marks a schema whose values cross the boundary by structured clone as they are, skipping the JSON codec.
 * Use it for values that structured clone keeps intact (typed arrays, `ArrayBuffer`, `Map`, `Blob`, ...).
 */
export const cloned = <S extends AnySchema>(schema: S): S["Rebuild"] =>
  schema.annotate({ toCodecJson: () => passthroughLink })

const binary = <T>(name: string, is: (u: unknown) => u is T) => cloned(Schema.declare<T>(is, { expected: name }))

/** A `Uint8Array` that crosses the boundary as binary (moved with `transfer: true`). */
export const Uint8Array = binary("Uint8Array", (u): u is Uint8Array => u instanceof globalThis.Uint8Array)
/** A `Float64Array` that crosses the boundary as binary (moved with `transfer: true`). */
export const Float64Array = binary("Float64Array", (u): u is Float64Array => u instanceof globalThis.Float64Array)
/** A `Float32Array` that crosses the boundary as binary (moved with `transfer: true`). */
export const Float32Array = binary("Float32Array", (u): u is Float32Array => u instanceof globalThis.Float32Array)
/** An `Int32Array` that crosses the boundary as binary (moved with `transfer: true`). */
export const Int32Array = binary("Int32Array", (u): u is Int32Array => u instanceof globalThis.Int32Array)
/** An `ArrayBuffer` that crosses the boundary as binary (moved with `transfer: true`). */
export const ArrayBuffer = binary("ArrayBuffer", (u): u is ArrayBuffer => u instanceof globalThis.ArrayBuffer)
