/**
 * A task: an Effect program plus what the orchestrator needs to schedule it (name, priority, kind, timeout,
 * retry policy and an optional fairness key).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "effect-orchestrator"
 *
 * const resize = Task.make(Effect.succeed("done"), {
 *   name: "resize",
 *   priority: "high",
 *   timeout: "5 seconds",
 *   retry: { maximumAttempts: 3 },
 *   key: "tenant-42"
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import type { RetryPolicyInput } from "./RetryPolicy.ts"
import { defaultKind } from "./TaskKind.ts"
import type { TaskKind } from "./TaskKind.ts"
import { defaultPriority } from "./TaskPriority.ts"
import type { TaskPriority } from "./TaskPriority.ts"

/** A unit of work and its scheduling metadata. */
export interface Task<A, E = never, R = never> {
  /** Unique within the process unless given by the user. */
  readonly id: string
  /** What the task is; metrics and spans are labelled with it. */
  readonly name: string
  readonly priority: TaskPriority
  readonly kind: TaskKind
  /** Hard limit on one attempt; `undefined` means none. Validated when the task runs. */
  readonly timeout: Duration.Input | undefined
  /** How failures are retried; `undefined` means they are not. Validated when the task runs. */
  readonly retry: RetryPolicyInput | undefined
  /** Fairness key (tenant, user, host): tasks of one key cannot starve other keys. */
  readonly key: string | undefined
  readonly effect: Effect.Effect<A, E, R>
}

/** Options of {@link make}; every field has a default. */
export interface TaskOptions {
  readonly id?: string
  /** Default: `"task"`. */
  readonly name?: string
  /** Default: `"normal"`. */
  readonly priority?: TaskPriority
  /** Default: `"io"`. */
  readonly kind?: TaskKind
  readonly timeout?: Duration.Input
  readonly retry?: RetryPolicyInput
  readonly key?: string
}

let sequence = 0

/** Builds a task from an effect; absent options take their defaults. */
export const make = <A, E, R>(effect: Effect.Effect<A, E, R>, options: TaskOptions = {}): Task<A, E, R> => {
  const name = options.name ?? "task"
  return {
    id: options.id ?? `${name}-${++sequence}`,
    name,
    priority: options.priority ?? defaultPriority,
    kind: options.kind ?? defaultKind,
    timeout: options.timeout,
    retry: options.retry,
    key: options.key,
    effect
  }
}
