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
import type { Fiber } from "effect"
import type { QueueFull } from "../../domain/OrchestratorError.ts"
import { InvalidConfig, TaskTimeout } from "../../domain/OrchestratorError.ts"
import type { RetryPolicy, RetryPolicyInput } from "../../domain/RetryPolicy.ts"
import type { Task } from "../../domain/Task.ts"
import { kinds } from "../../domain/TaskKind.ts"
import type { TaskKind } from "../../domain/TaskKind.ts"
import { rankOf } from "../../domain/TaskPriority.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { timeoutMillis as decodeTimeoutMillis } from "../config/ConfigValidation.ts"
import type { TrackedCallOptions } from "../pool/CallEncoding.ts"
import * as WorkerAssignment from "../pool/WorkerAssignment.ts"
import { decodePolicyExit, retryCountedDecoded } from "../resilience/Retry.ts"
import type { Lane } from "../scheduler/SchedulerCore.ts"
import type { Recorder, Series } from "./TaskMetrics.ts"
import * as TaskSpan from "./TaskSpan.ts"

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
  /**
   * The same admission without a waiting fiber, for batches (`BatchExecution`); when `admit` is set without it,
   * a batch runs its tasks through `admit`.
   */
  readonly lane?: Lane | undefined
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

const noTimeout: Exit.Exit<undefined> = Exit.succeed(undefined)

/** Decodes a task's timeout: a positive duration (infinite means none), or `InvalidConfig` naming `task.timeout`. */
export const timeoutMillis = (
  timeout: Duration.Input | undefined
): Exit.Exit<number | undefined, InvalidConfig> => {
  if (timeout === undefined) return noTimeout
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

/**
 * When a task started: when it was admitted (`startedAt`, by the clock, -1 if never), or for a cpu or blocking
 * task, when its first call left the pool's queue for a worker (`sentAt`, by `performance.now()`, which was
 * `startedAtPerf` at `startedAt`).
 */
const startTime = (
  startedAt: number,
  startedAtPerf: number,
  finishedAt: number,
  assignment: WorkerAssignment.WorkerAssignment | undefined
): number => {
  const sentAt = assignment?.sentAt
  return startedAt < 0
    ? finishedAt
    : sentAt !== undefined && sentAt > startedAtPerf
    // whole milliseconds, as the clock gives them
    ? Math.min(finishedAt, startedAt + Math.round(sentAt - startedAtPerf))
    : startedAt
}

/**
 * The options of a pool call that runs as a task by the direct path, or undefined when it must take the
 * general one: under a tracer that records spans, or with a priority that is not a level (from an untyped
 * caller), which the general path reports.
 *
 * The direct path applies when nothing of the general path does: no timeout, no retry policy, no admission, and
 * a tracer that records nothing (Effect's default). Then the task's span could be seen by nobody: its effect is
 * the library's own pool call, which sends no trace context under that tracer, and the worker's replayed spans
 * go to that same tracer. So it makes none, and hands the pool what the general path would give the call
 * through the context and around it: the `assignment` cell (the task's priority and key, by which the call
 * waits in the pool's queue, and the worker it went to), and the task's metric series as the call's
 * `observer`, which the pool tells how the call ended (a cancelled caller as an interruption, counted
 * cancelled) with its queue wait and run time. The call runs with no effect of the orchestrator around it:
 * about 0.5 µs of main-thread time per call instead of 6–9 µs through the general path (tiny offloads, see
 * `docs/benchmarks.md`). The metrics are the general path's.
 */
export const directCall = (
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  kind: TaskKind,
  priority: TaskPriority,
  key: string | undefined,
  options: ExecuteOptions
): TrackedCallOptions | undefined => {
  const priorityRank = rankOf(priority)
  if (priorityRank === undefined || fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer) return undefined
  const assignment = WorkerAssignment.make(priorityRank, key)
  options.onStart?.()
  const series = options.metrics?.series(name, kind, priority)
  if (series === undefined) return { assignment }
  series.submitted++
  return { assignment, observer: series }
}

/** Runs `task` to its result. */
export const execute = <A, E, R>(
  task: Task<A, E, R>,
  options: ExecuteOptions = {}
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> =>
  Effect.withFiber((fiber) => {
    if (options.span !== true) return executeIn(fiber, task, options, undefined)
    const name = `task ${task.name}`
    const span = TaskSpan.make(fiber, name, task)
    if (span !== undefined) return executeIn(fiber, task, options, span)
    return Effect.flatMap(
      Effect.makeSpan(name, {
        attributes: { "task.id": task.id, "task.kind": task.kind, "task.priority": task.priority }
      }),
      (span) => executeIn(fiber, task, options, span)
    )
  })

/**
 * One task prepared to run, with everything its report needs: the effect of its attempts (its own effect under
 * its timeout and retry policy, without the span and worker cell, which the runner installs), or the failure
 * that stops it before it starts (a bad priority, timeout or policy); its timings, attempt count, worker cell
 * and span; and {@link finish}, which makes its `TaskResult`, counts it and ends the span, once. `execute` runs
 * one as an effect; `BatchExecution` runs many as fibers of their own, with no effect per task around them.
 */
export class Prepared<A, E, R> {
  readonly enqueuedAt: number
  /** The priority's rank; undefined for an unknown level, which {@link rejected} then reports. */
  readonly priorityRank: number | undefined
  readonly series: Series | undefined
  /** Filled by the worker pool with the worker each pool call of the task is sent to; none for io tasks. */
  readonly assignment: WorkerAssignment.WorkerAssignment | undefined
  /** The attempts, or undefined when the task is {@link rejected}. */
  readonly attempt: Effect.Effect<A, E | ExecutionError, R> | undefined
  /** Why the task cannot start, or undefined. */
  readonly rejected: Exit.Exit<never, InvalidConfig> | undefined
  /** When it was admitted, by the clock; -1 while it has not been. */
  startedAt = -1
  /** `performance.now()` when `startedAt` was read: the pool stamps its first send with that clock. */
  startedAtPerf = 0
  attempts = 0
  finished = false
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly task: Task<A, E, R>
  readonly options: ExecuteOptions
  readonly span: Tracer.Span | undefined
  private readonly clock: Clock.Clock

  /** `enqueuedAt`: the clock's time now, when the caller has just read it; read here otherwise. */
  constructor(
    fiber: Fiber.Fiber<unknown, unknown>,
    task: Task<A, E, R>,
    options: ExecuteOptions,
    span: Tracer.Span | undefined,
    clock: Clock.Clock = fiber.getRef(Clock.Clock),
    enqueuedAt: number = clock.currentTimeMillisUnsafe()
  ) {
    this.fiber = fiber
    this.task = task
    this.options = options
    this.span = span
    this.clock = clock
    this.enqueuedAt = enqueuedAt
    const priorityRank = this.priorityRank = rankOf(task.priority)
    const knownKind = kinds.includes(task.kind)
    // An unknown level or kind (from an untyped caller) fails the task and labels no metric series.
    const series = this.series = priorityRank === undefined || !knownKind
      ? undefined
      : options.metrics?.series(task.name, task.kind, task.priority)
    if (series !== undefined) series.submitted++
    const assignment = this.assignment = task.kind === "io" ? undefined : WorkerAssignment.make(priorityRank, task.key)
    const timeout = timeoutMillis(task.timeout)
    const input = task.retry ?? options.defaultRetry
    const policy = input === undefined ? undefined : decodePolicyExit(input)
    if (priorityRank === undefined) {
      this.rejected = Exit.fail(
        new InvalidConfig({
          field: "task.priority",
          value: String(task.priority),
          detail: "not a priority level (critical, high, normal, low)"
        })
      )
    } else if (!knownKind) {
      this.rejected = Exit.fail(
        new InvalidConfig({
          field: "task.kind",
          value: String(task.kind),
          detail: "not a task kind (cpu, io, blocking)"
        })
      )
    } else if (timeout._tag === "Failure") this.rejected = Exit.failCause(timeout.cause)
    else if (policy?._tag === "Failure") this.rejected = Exit.failCause(policy.cause)
    else {
      this.attempt = policy === undefined
        ? singleAttempt(task, timeout.value)
        : retried(task, policy.value, timeout.value, assignment, (n) => this.attempts = n)
    }
  }

  /**
   * The first attempt starts now: `admitted` by a lane, or at once without one (then it counts as started).
   * `now`: the clock's time when the caller has just read it, else -1.
   */
  start(admitted: boolean, now = -1): void {
    this.attempts = 1
    this.startedAt = !admitted ? this.enqueuedAt : now >= 0 ? now : this.clock.currentTimeMillisUnsafe()
    if (this.assignment !== undefined) this.startedAtPerf = performance.now()
    if (!admitted) this.options.onStart?.()
  }

  /** The context the attempts run in: `context` with the task's span as the parent span and its worker cell. */
  contextFor(context: Context.Context<never>): Context.Context<R> {
    const withSpan = this.span === undefined ? context : Context.add(context, Tracer.ParentSpan, this.span)
    return (this.assignment === undefined
      ? withSpan
      : Context.add(withSpan, WorkerAssignment.CurrentWorkerAssignment, this.assignment)) as Context.Context<R>
  }

  /** The task's result for `exit`: counted, its span ended. Call once. */
  finish(exit: Exit.Exit<A, E | ExecutionError>): TaskResult<A, E | ExecutionError> {
    this.finished = true
    const task = this.task
    const assignment = this.assignment
    const enqueuedAt = this.enqueuedAt
    const attempts = this.attempts
    const finishedAt = this.clock.currentTimeMillisUnsafe()
    const started = startTime(this.startedAt, this.startedAtPerf, finishedAt, assignment)
    const result: { -readonly [K in keyof TaskResult<A, E | ExecutionError>]: TaskResult<A, E | ExecutionError>[K] } = {
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
    // absent, not undefined, when no call of the last attempt reached a worker
    const workerId = assignment?.workerId
    if (workerId !== undefined) result.workerId = workerId
    this.series?.record(result)
    if (this.span !== undefined) TaskSpan.end(this.fiber, this.span, exit)
    return result
  }
}

/** `span`, when given, is the task's: the parent of its spans, ended with its exit. */
const executeIn = <A, E, R>(
  fiber: Fiber.Fiber<unknown, unknown>,
  task: Task<A, E, R>,
  options: ExecuteOptions,
  span: Tracer.Span | undefined
): Effect.Effect<TaskResult<A, E | ExecutionError>, never, R> => {
  const prepared = new Prepared(fiber, task, options, span)
  let run: Effect.Effect<A, E | ExecutionError, R>
  if (prepared.attempt === undefined) run = prepared.rejected!
  else {
    const attempt = taskContext(prepared.attempt, span, prepared.assignment)
    if (options.admit === undefined) {
      prepared.start(false)
      run = attempt
    } else {
      run = options.admit(
        Effect.suspend(() => {
          prepared.start(true)
          return attempt
        }),
        // the task carries its priority and key: no options object per admission
        task
      )
    }
  }
  const result = Effect.matchCause(run, {
    onFailure: (cause) => prepared.finish(Exit.failCause(cause)),
    onSuccess: (value) => prepared.finish(Exit.succeed(value))
  })
  if (prepared.series === undefined && span === undefined) return result
  // An interrupted caller gets no result, but the task counts as cancelled and its span ends: `onExit` runs
  // then too.
  return Effect.onExitPrimitive(result, (exit) => {
    if (!prepared.finished && exit._tag === "Failure") prepared.finish(Exit.failCause(exit.cause))
    return undefined
  })
}
