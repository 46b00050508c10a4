/**
 * The outcome of one task: its `Exit` plus when it was enqueued, started and finished, how many attempts it
 * took and which worker ran it. Parallel runs return one per task, so one failure does not hide the others.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import type { TaskResult } from "effect-orchestrator"
 *
 * const report = (r: TaskResult.TaskResult<number, string>) =>
 *   `${r.name}: ${Exit.isSuccess(r.exit) ? "ok" : "failed"} after ${r.queueWaitMillis} ms queued, ${r.runMillis} ms run`
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Schema } from "effect"
import type { Exit } from "effect"
import { TaskKind } from "./TaskKind.ts"
import { TaskPriority } from "./TaskPriority.ts"

/** Schema of a result's metadata (everything but the exit), for logs and reports. */
export const TaskTimings = Schema.Struct({
  taskId: Schema.String,
  name: Schema.String,
  priority: TaskPriority,
  kind: TaskKind,
  /** Epoch milliseconds. */
  enqueuedAt: Schema.Finite,
  startedAt: Schema.Finite,
  finishedAt: Schema.Finite,
  /** `startedAt − enqueuedAt`. */
  queueWaitMillis: Schema.Finite,
  /** `finishedAt − startedAt`, retries and their waits included. */
  runMillis: Schema.Finite,
  attempts: Schema.Int,
  /** The worker that ran the last attempt; absent for tasks that ran on the main runtime. */
  workerId: Schema.optionalKey(Schema.Int)
})

/** A result's metadata. */
export type TaskTimings = typeof TaskTimings.Type

/** The outcome of one task. */
export interface TaskResult<A, E> extends TaskTimings {
  readonly exit: Exit.Exit<A, E>
}

/** Schema of a whole result, for a given success and error schema (for example to report it across a boundary). */
export const schema = <A extends Schema.Top, E extends Schema.Top>(success: A, error: E) =>
  Schema.Struct({
    ...TaskTimings.fields,
    exit: Schema.Exit(success, error, Schema.Defect({ includeStack: true }))
  })

const failsWith = (cause: Cause.Cause<unknown>, tag: string): boolean =>
  cause.reasons.some((r) => r._tag === "Fail" && (r.error as { _tag?: unknown } | null)?._tag === tag)

/**
 * Whether a task's exit is a cancellation: an interruption and nothing else, or a `TaskCancelled` failure (a
 * background task cancelled by its handle or by a shutdown). Metrics and stats count these apart from failures.
 */
export const isCancelled = (exit: Exit.Exit<unknown, unknown>): boolean =>
  exit._tag === "Failure" && (Cause.hasInterruptsOnly(exit.cause) || failsWith(exit.cause, "TaskCancelled"))

/** Whether a task's exit is a failure with `TaskTimeout` (its last attempt timed out). */
export const isTimedOut = (exit: Exit.Exit<unknown, unknown>): boolean =>
  exit._tag === "Failure" && failsWith(exit.cause, "TaskTimeout")
