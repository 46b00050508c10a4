/**
 * What a task mostly does, which decides where it runs: `cpu` work goes to the worker pool, `blocking`
 * synchronous calls go to a lane of their own off the main thread, and `io` runs on the main runtime.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TaskKind } from "effect-orchestrator"
 *
 * Schema.decodeUnknownSync(TaskKind.TaskKind)("cpu") // "cpu"
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The kinds of task. */
export const kinds = ["cpu", "io", "blocking"] as const

/** Schema of a task kind. */
export const TaskKind = Schema.Literals(kinds)

/** A task kind. */
export type TaskKind = typeof TaskKind.Type

/** The default kind of a task. */
export const defaultKind: TaskKind = "io"
