/**
 * The background pool's machinery: a priority queue of submitted tasks consumed by a fixed set of persistent
 * consumer fibers, with handles to await, poll or cancel each task, and a shutdown that either drains up to a
 * deadline or stops at once. Every task submitted before shutdown ends with a result: its own, or a typed
 * `TaskCancelled`.
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Option } from "effect"
import * as DurationInput from "../../domain/DurationInput.ts"
import { PoolShutDown, TaskCancelled } from "../../domain/OrchestratorError.ts"
import type { InvalidConfig } from "../../domain/OrchestratorError.ts"
import type { Task } from "../../domain/Task.ts"
import { rank } from "../../domain/TaskPriority.ts"
import { isCancelled } from "../../domain/TaskResult.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { decodeConfig } from "../config/ConfigValidation.ts"
import { Entry, PriorityQueue } from "../scheduler/PriorityQueue.ts"

/** Where a background task is in its life. */
export type TaskStatus = "queued" | "running" | "done"

/** A submitted background task. */
export interface TaskHandle<A, E> {
  readonly id: string
  /** Waits for the task and gives its value or its error (`TaskCancelled` if it was cancelled or shut down). */
  readonly await: Effect.Effect<A, E | TaskCancelled>
  /** Waits for the task and gives its full result, timings included. */
  readonly result: Effect.Effect<TaskResult<A, E | TaskCancelled>>
  /** The result if the task has finished, without waiting. */
  readonly poll: Effect.Effect<Option.Option<TaskResult<A, E | TaskCancelled>>>
  readonly status: Effect.Effect<TaskStatus>
  /** Cancels the task: removed from the queue if still there, interrupted if running. No-op once done. */
  readonly cancel: Effect.Effect<void>
}

/**
 * How to stop: finish queued and running work up to a deadline (a `Duration.Input`: `5_000` or `"5 seconds"`),
 * or stop at once. A drain says what it waits for and until when (an info log), and stops at once, as `now`
 * would, when `stopEarly` completes first (the orchestrator passes {@link nextInterruptSignal}: a second
 * Ctrl-C). A deadline that is not a duration of zero or more fails with `InvalidConfig` (`shutdown.deadline`).
 */
export type ShutdownMode =
  | {
    readonly mode: "drain"
    readonly deadline: Duration.Input
    readonly stopEarly?: Effect.Effect<void> | undefined
  }
  | { readonly mode: "now" }

/**
 * Completes at the next SIGINT or SIGTERM this process receives (listening only while it waits). A program
 * run by `NodeRuntime.runMain` is interrupted by the first one; during the drain that follows, this one
 * catches the second.
 */
export const nextInterruptSignal: Effect.Effect<void> = Effect.callback<void>((resume) => {
  const stopListening = (): void => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
  // the other signal's listener goes too: the canceller below runs only on interruption
  const onSignal = (): void => {
    stopListening()
    resume(Effect.void)
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  return Effect.sync(stopListening)
})

/** Counts of the background queue. */
export interface BackgroundStats {
  readonly accepting: boolean
  readonly queued: number
  readonly running: number
  readonly completed: number
  readonly cancelled: number
}

/** The background queue's operations. */
export interface BackgroundQueue<X = never> {
  readonly submit: <A, E, R>(task: Task<A, E, R>) => Effect.Effect<TaskHandle<A, E | X>, PoolShutDown, R>
  readonly shutdown: (mode: ShutdownMode) => Effect.Effect<void, InvalidConfig>
  readonly stats: Effect.Effect<BackgroundStats>
}

/**
 * Runs one task to its result; the orchestrator supplies it (admission, timeout, retry, routing). `X` is what
 * execution adds to a task's own errors (timeouts, rejections).
 */
export type Execute<X> = <A, E>(task: Task<A, E, never>) => Effect.Effect<TaskResult<A, E | X>>

class Job extends Entry {
  state: TaskStatus = "queued"
  fiber: Fiber.Fiber<TaskResult<unknown, unknown>> | undefined = undefined
  /** The job's result once it is done (what `poll` reads). */
  result: TaskResult<unknown, unknown> | undefined = undefined
  startedAt: number | undefined = undefined
  /** Why the job was cancelled, once it was; reported in its `TaskCancelled`. */
  cancelReason: string | undefined = undefined
  readonly enqueuedAt: number
  readonly task: Task<unknown, unknown, never>
  readonly done: Deferred.Deferred<TaskResult<unknown, unknown>>
  constructor(
    task: Task<unknown, unknown, never>,
    enqueuedAt: number,
    done: Deferred.Deferred<TaskResult<unknown, unknown>>
  ) {
    super(rank(task.priority))
    this.task = task
    this.enqueuedAt = enqueuedAt
    this.done = done
  }
}

const cancelledResult = (job: Job, now: number, reason: string): TaskResult<never, TaskCancelled> => ({
  taskId: job.task.id,
  name: job.task.name,
  priority: job.task.priority,
  kind: job.task.kind,
  enqueuedAt: job.enqueuedAt,
  startedAt: job.startedAt ?? now,
  finishedAt: now,
  queueWaitMillis: (job.startedAt ?? now) - job.enqueuedAt,
  runMillis: now - (job.startedAt ?? now),
  attempts: job.startedAt === undefined ? 0 : 1,
  exit: Exit.fail(new TaskCancelled({ taskId: job.task.id, taskName: job.task.name, reason }))
})

// A result whose exit was an interruption becomes a typed cancellation, so awaiting a handle never dies.
const typedCancellation = (job: Job, result: TaskResult<unknown, unknown>, reason: string) =>
  Exit.isFailure(result.exit) && Cause.hasInterruptsOnly(result.exit.cause)
    ? {
      ...result,
      exit: Exit.fail(new TaskCancelled({ taskId: job.task.id, taskName: job.task.name, reason }))
    }
    : result

const decodeDeadline = decodeConfig(DurationInput.NonNegative, "shutdown.deadline")

/**
 * Starts `consumers` persistent consumer fibers in the current scope. Closing the scope shuts the queue down
 * at once (call `shutdown` with `drain` first for a graceful stop).
 */
export const make = <X = never>(options: {
  readonly consumers: number
  readonly execute: Execute<X>
  readonly agingMillis?: number
}): Effect.Effect<BackgroundQueue<X>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const queue = new PriorityQueue<Job>({ agingMillis: options.agingMillis ?? 10_000 })
    const noKey = queue.group(undefined)
    const running = new Set<Job>()
    const idle: Array<() => void> = []
    let accepting = true
    let completed = 0
    let cancelled = 0
    let settled: (() => void) | undefined = undefined

    const wake = () => idle.shift()?.()
    const checkSettled = () => {
      if (queue.queued === 0 && running.size === 0) settled?.()
    }

    const finish = (job: Job, result: TaskResult<unknown, unknown>) =>
      Effect.suspend(() => {
        job.state = "done"
        job.result = result
        running.delete(job)
        if (isCancelled(result.exit)) {
          cancelled++
        } else completed++
        // The handle first: `checkSettled` resumes a draining shutdown, after which the scope may interrupt this
        // consumer before it gets to complete the handle, which would then never resolve.
        return Effect.andThen(Deferred.succeed(job.done, result), Effect.sync(checkSettled))
      })

    const next: Effect.Effect<Job> = Effect.callback<Job>((resume) => {
      const poll = () => {
        const job = queue.pop(clock.currentTimeMillisUnsafe())
        if (job !== undefined) resume(Effect.succeed(job))
        else idle.push(poll)
      }
      poll()
      // Stryker disable next-line all: equivalent, consumers are interrupted only at scope close, after the closing shutdown stopped submissions, so no wake can reach a stale poll
      return Effect.sync(() => {
        // Stryker disable next-line all: equivalent, see above
        const i = idle.indexOf(poll)
        // Stryker disable next-line all: equivalent, see above
        if (i >= 0) idle.splice(i, 1)
      })
    })

    const consumer = Effect.gen(function*() {
      while (true) {
        const job = yield* next
        job.state = "running"
        job.startedAt = clock.currentTimeMillisUnsafe()
        running.add(job)
        job.fiber = yield* Effect.forkChild(options.execute(job.task), { startImmediately: true })
        // cancelled while it started (by its own task, which runs at once): the fiber did not exist yet
        if (job.cancelReason !== undefined) yield* Fiber.interrupt(job.fiber)
        const exit = yield* Fiber.await(job.fiber)
        const reason = job.cancelReason ?? "interrupted while running"
        const result = Exit.isSuccess(exit)
          ? typedCancellation(job, exit.value, reason)
          : cancelledResult(job, yield* Clock.currentTimeMillis, reason)
        yield* finish(job, result)
      }
    })

    for (let i = 0; i < options.consumers; i++) yield* Effect.forkScoped(consumer)

    const cancelJob = (job: Job, reason: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        switch (job.state) {
          case "queued": {
            queue.remove(job)
            return Effect.flatMap(Clock.currentTimeMillis, (now) => finish(job, cancelledResult(job, now, reason)))
          }
          case "running":
            job.cancelReason ??= reason
            return job.fiber === undefined ? Effect.void : Fiber.interrupt(job.fiber)
          case "done":
            return Effect.void
        }
      })

    const submit = <A, E, R>(task: Task<A, E, R>): Effect.Effect<TaskHandle<A, E | X>, PoolShutDown, R> =>
      Effect.gen(function*() {
        if (!accepting) return yield* new PoolShutDown({ service: "BackgroundPool" })
        const context = yield* Effect.context<R>()
        const now = yield* Clock.currentTimeMillis
        const done = yield* Deferred.make<TaskResult<unknown, unknown>>()
        const provided = { ...task, effect: Effect.provideContext(task.effect, context) } as Task<
          unknown,
          unknown,
          never
        >
        const job = new Job(provided, now, done)
        queue.push(job, noKey, now)
        wake()
        const result = Deferred.await(done) as Effect.Effect<TaskResult<A, E | X | TaskCancelled>>
        return {
          id: task.id,
          result,
          await: Effect.flatMap(result, (r) => r.exit),
          poll: Effect.sync(() =>
            Option.fromUndefinedOr(job.result as TaskResult<A, E | X | TaskCancelled> | undefined)
          ),
          status: Effect.sync(() => job.state),
          cancel: cancelJob(job, "cancelled by handle")
        } satisfies TaskHandle<A, E | X>
      })

    const stopAll = (reason: string) =>
      Effect.gen(function*() {
        for (const job of queue.takeAll()) {
          yield* Effect.flatMap(Clock.currentTimeMillis, (now) => finish(job, cancelledResult(job, now, reason)))
        }
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, `discard` only drops results nobody reads
        yield* Effect.forEach([...running], (job) => cancelJob(job, reason), { discard: true })
        // Interrupted jobs complete through their consumer; wait for that so no handle is left pending.
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, `discard` only drops results nobody reads
        yield* Effect.forEach([...running], (job) => Deferred.await(job.done), { discard: true })
      })

    const waitSettled = Effect.callback<void>((resume) => {
      settled = () => resume(Effect.void)
      checkSettled()
    })

    /** Waits until the queue has settled, or `stopEarly` completes: which one came first. */
    const settledOr = (stopEarly: Effect.Effect<void> | undefined): Effect.Effect<"drained" | "stopped"> =>
      stopEarly === undefined
        ? Effect.as(waitSettled, "drained" as const)
        : Effect.raceFirst(
          Effect.as(Effect.interruptible(waitSettled), "drained" as const),
          Effect.as(Effect.interruptible(stopEarly), "stopped" as const)
        )

    const shutdown = (mode: ShutdownMode): Effect.Effect<void, InvalidConfig> =>
      Effect.gen(function*() {
        // Checked before anything stops, so that a bad deadline leaves the queue as it was.
        const deadline = mode.mode === "drain" ? yield* decodeDeadline(mode.deadline) : 0
        accepting = false
        if (mode.mode === "drain") {
          if (queue.queued === 0 && running.size === 0) return
          const until = new Date(clock.currentTimeMillisUnsafe() + deadline)
          yield* Effect.logInfo(
            `background queue: draining ${running.size} running and ${queue.queued} queued task(s) until ${until.toISOString()} (${deadline} ms)${
              mode.stopEarly === undefined ? "" : "; interrupt again (Ctrl-C) to stop them now"
            }`
          )
          const outcome = yield* Effect.timeoutOption(settledOr(mode.stopEarly), deadline)
          if (Option.isSome(outcome) && outcome.value === "drained") return
          const reason = Option.isSome(outcome) ? "stopped by a second interrupt" : "shutdown deadline passed"
          yield* Effect.logWarning(
            `background queue: ${reason}; cancelling ${running.size} running and ${queue.queued} queued task(s)`
          )
          return yield* stopAll(reason)
        }
        yield* stopAll("shut down")
      })

    // Stryker disable next-line ObjectLiteral,StringLiteral: equivalent, any mode but "drain" stops at once
    yield* Effect.addFinalizer(() => Effect.orDie(shutdown({ mode: "now" })))

    return {
      submit,
      shutdown,
      stats: Effect.sync(() => ({ accepting, queued: queue.queued, running: running.size, completed, cancelled }))
    }
  })
