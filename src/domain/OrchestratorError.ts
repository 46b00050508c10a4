/**
 * The error catalogue: every failure a user can act on, as a tagged error class. Each class is a Schema, so it
 * is encoded on one side of a thread or process boundary and decoded into the same class on the other.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OrchestratorError } from "effect-orchestrator"
 *
 * const program = Effect.fail(new OrchestratorError.TaskTimeout({ taskId: "t1", taskName: "resize", timeoutMillis: 50 }))
 *
 * program.pipe(Effect.catchTag("TaskTimeout", (e) => Effect.succeed(`gave up after ${e.timeoutMillis} ms`)))
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TaskPriority } from "./TaskPriority.ts"

/** A task ran past its timeout. Its worker, if it had one, was told to stop. */
export class TaskTimeout extends Schema.TaggedError<TaskTimeout>()("TaskTimeout", {
  taskId: Schema.String,
  taskName: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `task ${this.taskName} (${this.taskId}) timed out after ${this.timeoutMillis} ms`
  }
}

/** A task was cancelled before it produced a result: its caller was interrupted, or it was cancelled by handle. */
export class TaskCancelled extends Schema.TaggedError<TaskCancelled>()("TaskCancelled", {
  taskId: Schema.String,
  taskName: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `task ${this.taskName} (${this.taskId}) was cancelled: ${this.reason}`
  }
}

/** A bounded queue was full and its policy is to fail instead of waiting. */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  capacity: Schema.Number,
  priority: TaskPriority
}) {
  override get message(): string {
    return `queue is full (capacity ${this.capacity}); rejected a ${this.priority} task`
  }
}

/** The worker a task ran on died: it exited, threw an uncaught error, ran out of memory, or was terminated. */
export class WorkerCrashed extends Schema.TaggedError<WorkerCrashed>()("WorkerCrashed", {
  workerId: Schema.Number,
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  reason: Schema.Literals(["exit", "uncaught", "out-of-memory", "terminated"]),
  detail: Schema.String
}) {
  override get message(): string {
    const how = this.signal !== null ? `signal ${this.signal}` : `exit code ${this.exitCode ?? "unknown"}`
    return `worker ${this.workerId} crashed (${this.reason}, ${how}): ${this.detail}`
  }
}

/** Workers could not start. `cause` is the worker's own error, with its stack. */
export class WorkerBootFailed extends Schema.TaggedError<WorkerBootFailed>()("WorkerBootFailed", {
  workerId: Schema.Number,
  attempts: Schema.Number,
  cause: Schema.Defect({ includeStack: true })
}) {
  override get message(): string {
    const inner = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `worker ${this.workerId} failed to boot after ${this.attempts} attempt(s): ${inner}`
  }
}

/** No handler is registered under the task name that was called. */
export class UnknownTask extends Schema.TaggedError<UnknownTask>()("UnknownTask", {
  taskName: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unknown task "${this.taskName}"; known tasks: ${this.known.join(", ") || "(none)"}`
  }
}

/** A payload failed its schema, or cannot be sent to a worker (not cloneable, or a function with closures). */
export class PayloadInvalid extends Schema.TaggedError<PayloadInvalid>()("PayloadInvalid", {
  taskName: Schema.String,
  reason: Schema.Literals(["schema", "not-cloneable", "not-self-contained"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid payload for task "${this.taskName}" (${this.reason}): ${this.detail}`
  }
}

/** The service was shut down (or is shutting down) and accepts no more work. */
export class PoolShutDown extends Schema.TaggedError<PoolShutDown>()("PoolShutDown", {
  service: Schema.String
}) {
  override get message(): string {
    return `${this.service} is shut down and accepts no more work`
  }
}

/** A configuration value is invalid. `field` is its path (`pool.maxWorkers`), `value` how it was given. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  value: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid configuration: ${this.field} = ${this.value}: ${this.detail}`
  }
}

/** A call was rejected because the circuit of its dependency is open. Retry after `retryAfterMillis`. */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  key: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `circuit "${this.key}" is open; retry in ${this.retryAfterMillis} ms`
  }
}

/** Any error of the catalogue. */
export type OrchestratorError =
  | TaskTimeout
  | TaskCancelled
  | QueueFull
  | WorkerCrashed
  | WorkerBootFailed
  | UnknownTask
  | PayloadInvalid
  | PoolShutDown
  | InvalidConfig
  | CircuitOpen

/** Schema of any error of the catalogue, for encoding and decoding across a boundary. */
export const OrchestratorError = Schema.Union([
  TaskTimeout,
  TaskCancelled,
  QueueFull,
  WorkerCrashed,
  WorkerBootFailed,
  UnknownTask,
  PayloadInvalid,
  PoolShutDown,
  InvalidConfig,
  CircuitOpen
])
