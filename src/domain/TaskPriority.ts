/**
 * Task priorities. `critical` is admitted before `high`, `high` before `normal`, `normal` before `low`;
 * within a level, first come first served.
 *
 * @example
 * ```ts
 * import { TaskPriority } from "effect-orchestrator"
 * import { Array } from "effect"
 *
 * Array.sort(["low", "critical", "normal"] as const, TaskPriority.Order) // ["critical", "normal", "low"]
 * ```
 *
 * @since 0.1.0
 */
import { Order as Ord, Schema } from "effect"

/** The priority levels, highest first. */
export const levels = ["critical", "high", "normal", "low"] as const

/** Schema of a priority level. */
export const TaskPriority = Schema.Literals(levels)

/** A priority level. */
export type TaskPriority = typeof TaskPriority.Type

/** The default priority of a task. */
export const defaultPriority: TaskPriority = "normal"

/**
 * Rank of a level: 0 for `critical` up to 3 for `low`. Schedulers index their queues by it, so it must stay
 * dense and start at zero.
 */
export const rank = (priority: TaskPriority): 0 | 1 | 2 | 3 => {
  switch (priority) {
    case "critical":
      return 0
    case "high":
      return 1
    case "normal":
      return 2
    case "low":
      return 3
  }
}

/** The level of a rank; the inverse of {@link rank}. */
export const fromRank = (r: 0 | 1 | 2 | 3): TaskPriority => levels[r]

/** Orders priorities so that the most urgent comes first (`critical` < `high` < `normal` < `low`). */
export const Order: Ord.Order<TaskPriority> = Ord.mapInput(Ord.Number, rank)
