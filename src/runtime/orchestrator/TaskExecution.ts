/**
 * Runs one task to a `TaskResult`: admission (by a scheduler lane), the task's timeout and retry policy, and the
 * timings of every phase. The result always comes back, failures included, so a batch of tasks can report each
 * one; only an interruption of the caller ends it without a result.
 *
 * Composition, from the inside out: the task's effect, then the per-attempt timeout (`TaskTimeout`), then the
 * retry policy (so a timed-out attempt can be retried), then admission (a retry keeps its permit: it does not
 * queue again behind newer work).
 *
 * Each attempt of a `cpu` or `blocking` task runs with an empty `WorkerAssignment` cell in its context, which
 * the worker pool fills with the worker each of its calls is sent to: the result's `workerId` is the worker of
 * the last attempt's last pool call, and is absent when that attempt sent nothing to a worker (a call rejected
 * or timed out before it left the queue). `io` tasks run on the main runtime and get no cell: they report no
 * worker and pay nothing for it (providing the cell costs about 0.4 µs per task, a tenth of an io task's
 * execution).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit } from "effect"
import type { Types } from "effect"
import type { InvalidConfig, QueueFull } from "../../domain/OrchestratorError.ts"
import { TaskTimeout } from "../../domain/OrchestratorError.ts"
import { RetryPolicy as RetryPolicySchema } from "../../domain/RetryPolicy.ts"
import type { RetryPolicy, RetryPolicyInput } from "../../domain/RetryPolicy.ts"
import type { Task } from "../../domain/Task.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { decodeConfigExit, timeoutMillis as decodeTimeoutMillis } from "../config/ConfigValidation.ts"
import * as WorkerAssignment from "../pool/WorkerAssignment.ts"
import { retryCountedDecoded } from "../resilience/Retry.ts"

const decodePolicyExit = decodeConfigExit(RetryPolicySchema, "retry")

/** Admits an effect: runs it once a permit of the right lane is free. */
export type Admit = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly priority: TaskPriority; readonly key?: string | undefined }
) => Effect.Effect<A, E | QueueFull, R>

/** The errors the execution itself adds to a task's own. */
export type ExecutionError = TaskTimeout | QueueFull | InvalidConfig

/** How tasks are executed. */
export interface ExecuteOptions {
  /** Admission; default: run at once. */
  readonly admit?: Admit | undefined
  /** Retry policy of tasks that name none; default: a single attempt. */
  readonly defaultRetry?: RetryPolicyInput | undefined
}

const noAdmission: Admit = (effect) => effect

/** Decodes a task's timeout: a positive duration (infinite means none), or `InvalidConfig` naming `task.timeout`. */
export const timeoutMillis = (
  timeout: Duration.Input | undefined
): Exit.Exit<number | undefined, InvalidConfig> => {
  if (timeout === undefined) return Exit.succeed(undefined)
  const millis = decodeTimeoutMillis(timeout, "task.timeout")
  return typeof millis !== "number"
    ? Exit.fail(millis)
    : Exit.succeed(millis === Number.POSITIVE_INFINITY ? undefined : millis)
}

// Policies are usually module constants shared by many tasks: decode each one once.
const decodedPolicies = new WeakMap<RetryPolicyInput, Exit.Exit<RetryPolicy, InvalidConfig>>()
const decodePolicyCached = (input: RetryPolicyInput): Exit.Exit<RetryPolicy, InvalidConfig> => {
  let decoded = decodedPolicies.get(input)
  if (decoded === undefined) {
    decoded = decodePolicyExit(input)
    decodedPolicies.set(input, decoded)
  }
  return decoded
}

/** One attempt under a timeout, for tasks without a retry policy: the common case, kept cheap. */
const singleAttempt = <A, E, R>(
  task: Task<A, E, R>,
  timeout: number | undefined,
  assignment: WorkerAssignment.WorkerAssignment | undefined
): Effect.Effect<A, E | TaskTimeout, R> => {
  const effect = assignment === undefined ? task.effect : WorkerAssignment.track(task.effect, assignment)
  return timeout === undefined ? effect : Effect.timeoutOrElse(effect, {
    duration: Duration.millis(timeout),
    orElse: () => Effect.fail(new TaskTimeout({ taskId: task.id, taskName: task.name, timeoutMillis: timeout }))
  })
}

/** Runs `task` to its result. */
export const execute = <A, E, R>(
  task: Task<A, E, R>,
  options: ExecuteOptions = {}
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> =>
  Effect.gen(function*() {
    const enqueuedAt = yield* Clock.currentTimeMillis
    let startedAt: number | undefined = undefined
    let attempts = 0
    // Filled by the worker pool with the worker each pool call of the task is sent to; emptied before each
    // attempt, so that the result names the worker of the last attempt (none when it never reached one).
    const assignment = task.kind === "io" ? undefined : WorkerAssignment.make()
    const outcome = yield* Effect.exit(Effect.gen(function*() {
      const timeout = yield* timeoutMillis(task.timeout)
      const input = task.retry ?? options.defaultRetry
      const policy = input === undefined ? undefined : yield* decodePolicyCached(input)
      const attempt = Effect.gen(function*() {
        startedAt = yield* Clock.currentTimeMillis
        if (policy === undefined) {
          attempts = 1
          return yield* singleAttempt(task, timeout, assignment)
        }
        const withTimeout = timeout !== undefined && policy.attemptTimeoutMillis === undefined
          ? { ...policy, attemptTimeoutMillis: timeout }
          : policy
        const info = { taskId: task.id, taskName: task.name }
        const attempted = yield* assignment === undefined
          ? retryCountedDecoded(task.effect, withTimeout, info)
          : WorkerAssignment.track(
            retryCountedDecoded(
              Effect.suspend(() => {
                assignment.workerId = undefined
                return task.effect
              }),
              withTimeout,
              info
            ),
            assignment
          )
        attempts = attempted.attempts
        return yield* attempted.exit
      })
      return yield* (options.admit ?? noAdmission)(attempt, { priority: task.priority, key: task.key })
    }))
    const finishedAt = yield* Clock.currentTimeMillis
    const started = startedAt ?? finishedAt
    const result: Types.Mutable<TaskResult<A, E | ExecutionError>> = {
      taskId: task.id,
      name: task.name,
      priority: task.priority,
      kind: task.kind,
      enqueuedAt,
      startedAt: started,
      finishedAt,
      queueWaitMillis: started - enqueuedAt,
      runMillis: finishedAt - started,
      attempts,
      exit: outcome
    }
    if (assignment?.workerId !== undefined) result.workerId = assignment.workerId
    return result
  })
