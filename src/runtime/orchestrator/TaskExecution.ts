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
 * execution). The cell also carries the task's priority and fairness key, by which the pool orders its calls
 * while they wait for a worker: for cpu work the pool's queue is the task's queue.
 *
 * Cost: a task without a timeout or a retry policy runs inside one `withFiber` frame plus an `exit`, with the
 * clock read directly (no generator, no timeout fiber, no retry schedule); a timeout adds
 * `Effect.timeoutOrElse`, a policy the retry loop. Metrics, when a recorder is given, are a few adds on plain
 * counters (see `TaskMetrics`).
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Exit, Tracer } from "effect"
import type { InvalidConfig, QueueFull } from "../../domain/OrchestratorError.ts"
import { TaskTimeout } from "../../domain/OrchestratorError.ts"
import type { RetryPolicy, RetryPolicyInput } from "../../domain/RetryPolicy.ts"
import type { Task } from "../../domain/Task.ts"
import { rank } from "../../domain/TaskPriority.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { timeoutMillis as decodeTimeoutMillis } from "../config/ConfigValidation.ts"
import * as WorkerAssignment from "../pool/WorkerAssignment.ts"
import { decodePolicyExit, retryCountedDecoded } from "../resilience/Retry.ts"
import type { Recorder } from "./TaskMetrics.ts"

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
  /** Where the task's submission and result are counted; default: nowhere. */
  readonly metrics?: Recorder | undefined
  /**
   * Whether the task runs in a span of its own (`task <name>`, attributes `task.id`, `task.kind`,
   * `task.priority`), the parent of the spans it makes. Default false.
   */
  readonly span?: boolean | undefined
  /** Called as a task starts when there is no admission (so counting it costs no effect of its own). */
  readonly onStart?: (() => void) | undefined
}

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

/** One attempt under a timeout, for tasks without a retry policy: the common case, kept cheap. */
const singleAttempt = <A, E, R>(
  task: Task<A, E, R>,
  timeout: number | undefined
): Effect.Effect<A, E | TaskTimeout, R> => {
  const effect = task.effect
  return timeout === undefined ? effect : Effect.timeoutOrElse(effect, {
    duration: Duration.millis(timeout),
    orElse: () => Effect.fail(new TaskTimeout({ taskId: task.id, taskName: task.name, timeoutMillis: timeout }))
  })
}

/** Attempts under a decoded policy, the task's timeout applying to each attempt unless the policy sets one. */
const retried = <A, E, R>(
  task: Task<A, E, R>,
  policy: RetryPolicy,
  timeout: number | undefined,
  assignment: WorkerAssignment.WorkerAssignment | undefined,
  counted: (attempts: number) => void
): Effect.Effect<A, E | TaskTimeout, R> => {
  const withTimeout = timeout !== undefined && policy.attemptTimeout === undefined
    ? { ...policy, attemptTimeout: timeout }
    : policy
  const info = { taskId: task.id, taskName: task.name }
  const attempts = assignment === undefined
    ? retryCountedDecoded(task.effect, withTimeout, info)
    : retryCountedDecoded(
      Effect.suspend(() => {
        // the result names the worker of the last attempt: none when that attempt never reached one
        assignment.workerId = undefined
        return task.effect
      }),
      withTimeout,
      info
    )
  return Effect.flatMap(attempts, (attempted) => {
    counted(attempted.attempts)
    return attempted.exit
  })
}

/**
 * The task's context: its span as the parent span and its `WorkerAssignment` cell, in one context change (each
 * change rebuilds the fiber's context cache, the larger part of a span's cost).
 */
const taskContext = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  span: Tracer.Span | undefined,
  assignment: WorkerAssignment.WorkerAssignment | undefined
): Effect.Effect<A, E, R> => {
  if (span === undefined && assignment === undefined) return effect
  return Effect.updateContext(effect, (context: Context.Context<R>) => {
    const withSpan = span === undefined ? context : Context.add(context, Tracer.ParentSpan, span)
    return assignment === undefined
      ? withSpan
      : Context.add(withSpan, WorkerAssignment.CurrentWorkerAssignment, assignment)
  })
}

/** Runs `task` to its result. */
export const execute = <A, E, R>(
  task: Task<A, E, R>,
  options: ExecuteOptions = {}
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> =>
  options.span === true
    ? Effect.useSpan(`task ${task.name}`, {
      attributes: { "task.id": task.id, "task.kind": task.kind, "task.priority": task.priority }
    }, (span) => executeIn(task, options, span))
    : executeIn(task, options, undefined)

const executeIn = <A, E, R>(
  task: Task<A, E, R>,
  options: ExecuteOptions,
  span: Tracer.Span | undefined
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const enqueuedAt = clock.currentTimeMillisUnsafe()
    const series = options.metrics?.series(task.name, task.kind, task.priority)
    if (series !== undefined) series.submitted++
    let startedAt = -1
    // `performance.now()` when `startedAt` was read: the pool stamps its first send with that clock
    let startedAtPerf = 0
    let attempts = 0
    // Filled by the worker pool with the worker each pool call of the task is sent to.
    const assignment = task.kind === "io" ? undefined : WorkerAssignment.make(rank(task.priority), task.key)
    let run: Effect.Effect<A, E | ExecutionError, R>
    const timeout = timeoutMillis(task.timeout)
    const input = task.retry ?? options.defaultRetry
    const policy = input === undefined ? undefined : decodePolicyExit(input)
    if (timeout._tag === "Failure") run = Exit.failCause(timeout.cause)
    else if (policy?._tag === "Failure") run = Exit.failCause(policy.cause)
    else {
      const attempt = taskContext(
        policy === undefined
          ? singleAttempt(task, timeout.value)
          : retried(task, policy.value, timeout.value, assignment, (n) => attempts = n),
        span,
        assignment
      )
      if (options.admit === undefined) {
        attempts = 1
        startedAt = enqueuedAt
        if (assignment !== undefined) startedAtPerf = performance.now()
        options.onStart?.()
        run = attempt
      } else {
        run = options.admit(
          Effect.suspend(() => {
            attempts = 1
            startedAt = clock.currentTimeMillisUnsafe()
            if (assignment !== undefined) startedAtPerf = performance.now()
            return attempt
          }),
          { priority: task.priority, key: task.key }
        )
      }
    }
    const finish = (exit: Exit.Exit<A, E | ExecutionError>): TaskResult<A, E | ExecutionError> => {
      const finishedAt = clock.currentTimeMillisUnsafe()
      // A cpu or blocking task starts when its first call leaves the pool's queue for a worker.
      const sentAt = assignment?.sentAt
      const started = startedAt < 0
        ? finishedAt
        : sentAt !== undefined && sentAt > startedAtPerf
        // whole milliseconds, as the clock gives them
        ? Math.min(finishedAt, startedAt + Math.round(sentAt - startedAtPerf))
        : startedAt
      const workerId = assignment?.workerId
      const result: TaskResult<A, E | ExecutionError> = workerId === undefined
        ? {
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
          exit
        }
        : {
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
          workerId,
          exit
        }
      series?.record(result)
      return result
    }
    return Effect.matchCause(run, {
      onFailure: (cause) => finish(Exit.failCause(cause)),
      onSuccess: (value) => finish(Exit.succeed(value))
    })
  })
