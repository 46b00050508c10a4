/**
 * Runs one task to a `TaskResult`: admission (by a scheduler lane), the task's timeout and retry policy, and the
 * timings of every phase. The result always comes back, failures included, so a batch of tasks can report each
 * one; only an interruption of the caller ends it without a result.
 *
 * Composition, from the inside out: the task's effect, then the per-attempt timeout (`TaskTimeout`), then the
 * retry policy (so a timed-out attempt can be retried), then admission (a retry keeps its permit: it does not
 * queue again behind newer work).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit } from "effect"
import type { InvalidConfig, QueueFull } from "../domain/OrchestratorError.ts"
import { InvalidConfig as InvalidConfigError, TaskTimeout } from "../domain/OrchestratorError.ts"
import { RetryPolicy as RetryPolicySchema } from "../domain/RetryPolicy.ts"
import type { RetryPolicy, RetryPolicyInput } from "../domain/RetryPolicy.ts"
import type { Task } from "../domain/Task.ts"
import type { TaskPriority } from "../domain/TaskPriority.ts"
import type { TaskResult } from "../domain/TaskResult.ts"
import { decodeConfigExit } from "./ConfigValidation.ts"
import { retryCountedDecoded } from "./Retry.ts"

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

/** Decodes a task's timeout: a positive duration, or `InvalidConfig` naming `task.timeout`. */
export const timeoutMillis = (
  timeout: Duration.Input | undefined
): Exit.Exit<number | undefined, InvalidConfig> => {
  if (timeout === undefined) return Exit.succeed(undefined)
  const decoded = Duration.fromInput(timeout)
  const millis = decoded._tag === "Some" ? Duration.toMillis(decoded.value) : Number.NaN
  return Number.isFinite(millis) && millis > 0 || millis === Number.POSITIVE_INFINITY
    ? Exit.succeed(millis === Number.POSITIVE_INFINITY ? undefined : millis)
    : Exit.fail(
      new InvalidConfigError({ field: "task.timeout", value: String(timeout), detail: "must be a positive duration" })
    )
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
  timeout: number | undefined
): Effect.Effect<A, E | TaskTimeout, R> =>
  timeout === undefined ? task.effect : Effect.timeoutOrElse(task.effect, {
    duration: Duration.millis(timeout),
    orElse: () => Effect.fail(new TaskTimeout({ taskId: task.id, taskName: task.name, timeoutMillis: timeout }))
  })

/** Runs `task` to its result. */
export const execute = <A, E, R>(
  task: Task<A, E, R>,
  options: ExecuteOptions = {}
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> =>
  Effect.gen(function*() {
    const enqueuedAt = yield* Clock.currentTimeMillis
    let startedAt: number | undefined = undefined
    let attempts = 0
    const outcome = yield* Effect.exit(Effect.gen(function*() {
      const timeout = yield* timeoutMillis(task.timeout)
      const input = task.retry ?? options.defaultRetry
      const policy = input === undefined ? undefined : yield* decodePolicyCached(input)
      const attempt = Effect.gen(function*() {
        startedAt = yield* Clock.currentTimeMillis
        if (policy === undefined) {
          attempts = 1
          return yield* singleAttempt(task, timeout)
        }
        const withTimeout = timeout !== undefined && policy.attemptTimeoutMillis === undefined
          ? { ...policy, attemptTimeoutMillis: timeout }
          : policy
        const attempted = yield* retryCountedDecoded(task.effect, withTimeout, { taskId: task.id, taskName: task.name })
        attempts = attempted.attempts
        return yield* attempted.exit
      })
      return yield* (options.admit ?? noAdmission)(attempt, { priority: task.priority, key: task.key })
    }))
    const finishedAt = yield* Clock.currentTimeMillis
    const started = startedAt ?? finishedAt
    return {
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
  })
