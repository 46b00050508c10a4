/**
 * Which worker ran a call: a small mutable cell that a caller places in its fiber's context and that the worker
 * pool fills with the id of the worker each call is sent to. `TaskExecution` provides one per task and reports
 * what it holds after the last attempt as `TaskResult.workerId`.
 *
 * A cell rather than a return value, so that the pool's `run` and `offload` keep their plain signatures and a
 * task made of several calls needs no plumbing: the cell holds the worker of the last call sent. The pool reads
 * the reference once per call and writes only when a cell is there, so calls outside a task pay one lookup.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerAssignment } from "effect-orchestrator"
 *
 * const withWorker = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
 *   Effect.suspend(() => {
 *     const cell = WorkerAssignment.make()
 *     return effect.pipe(
 *       WorkerAssignment.track(cell),
 *       Effect.map((value) => ({ value, workerId: cell.workerId }))
 *     )
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import { provideService } from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"

/**
 * The cell: the id of the worker the last call was sent to, or undefined while no call has been sent; and the
 * admission of the task the calls belong to (priority rank and fairness key), by which the pool orders them
 * while they wait for a worker, so the pool's queue is the task's queue.
 */
export interface WorkerAssignment {
  workerId: number | undefined
  /**
   * When the first call was sent to a worker (`performance.now()`), so a task's queue wait includes its wait in
   * the pool's queue; undefined while none has been sent.
   */
  sentAt?: number | undefined
  /** Rank of the task's priority (`TaskPriority.rank`: 0 critical … 3 low); absent: normal. */
  readonly priority?: number | undefined
  /** The task's fairness key. */
  readonly key?: string | undefined
}

/** The cell of the current fiber, if a caller placed one; the pool writes into it. */
export const CurrentWorkerAssignment: Context.Reference<WorkerAssignment | undefined> = Context.Reference<
  WorkerAssignment | undefined
>("effect-orchestrator/WorkerAssignment", { defaultValue: () => undefined })

/** A fresh, empty cell, for the calls of a task of priority rank `priority` and fairness key `key`. */
export const make = (priority?: number, key?: string): WorkerAssignment => ({
  workerId: undefined,
  sentAt: undefined,
  priority,
  key
})

/**
 * Runs `effect` with `cell` as the current cell: the pool calls it makes (in its fiber and the fibers it forks)
 * record their worker there.
 */
export const track: {
  (cell: WorkerAssignment): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, cell: WorkerAssignment): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, cell: WorkerAssignment): Effect.Effect<A, E, R> =>
    provideService(effect, CurrentWorkerAssignment, cell)
)

/**
 * The cell of the fiber running now, read synchronously (inside `Effect.callback`'s register function, for
 * example); undefined outside a fiber or when no caller placed one.
 */
export const current = (): WorkerAssignment | undefined => {
  const fiber = Fiber.getCurrent()
  return fiber === undefined ? undefined : fiber.getRef(CurrentWorkerAssignment)
}
