/**
 * `runAll`'s runner: many tasks to their results, each as a fiber of its own that starts when its lane admits
 * it, with no effect per task around it.
 *
 * Structure: a window of at most `concurrency` tasks is in flight (queued in their lane or running). Tasks enter
 * it by priority (stable: in input order within a level), as from one priority queue over the whole batch. A
 * task entering the window is prepared (`TaskExecution.Prepared`: its span, timings and attempts) and queued in its
 * lane as a fiberless `Admission`; when the lane admits it, its attempts are forked with the runner fiber's
 * context plus the task's span and worker cell, and the forked fiber's exit observer releases the permit, makes
 * the result and lets the next task into the window. A task enters the window only while fewer than
 * {@link maxQueuedInLane} of the batch's tasks wait in lanes' queues. The runner fiber itself waits in one `Effect.callback`.
 *
 * Why: through `Effect.forEach` over `TaskExecution.execute`, every task of the window was a fiber suspended in
 * its lane's queue, wrapped in `withFiber`, `matchCause`, `onExit`, a context change for its span and the lane's
 * `uninterruptibleMask`: about 6 µs of main-thread time per io task of `Effect.promise` (50 k tasks, 8 permits,
 * window 1024, 2-core VM), where the lane alone costs 1.5 µs. Here a task is two small objects (its `Prepared`
 * and its `Admission`) until it is admitted, and then one fiber. The order of admission is the lane's, shared
 * with single submissions: a batch's tasks wait in the same queue as everybody else's.
 *
 * Semantics are `Effect.forEach`'s over `execute`: a result per task in input order; with `failFast`, the first
 * failure interrupts the rest (the queued ones leave their lanes, the running ones are interrupted and awaited)
 * and fails the whole with that task's cause; an interruption of the runner does the same and counts every task
 * in the window as cancelled. The runner only applies when every task's admission is a lane built by this
 * library and its span can be made without an effect (`TaskSpan.isPlain`); otherwise it is that `forEach`.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Tracer from "effect/Tracer"
import type { QueueFull } from "../../domain/OrchestratorError.ts"
import type { Task } from "../../domain/Task.ts"
import { rankOf } from "../../domain/TaskPriority.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { Admission } from "../scheduler/SchedulerCore.ts"
import { execute, Prepared } from "./TaskExecution.ts"
import type { ExecuteOptions, ExecutionError } from "./TaskExecution.ts"
import * as TaskSpan from "./TaskSpan.ts"

type AnyTask = Task<unknown, unknown, unknown>

/**
 * How many tasks of one batch wait in their lanes' queues at once; the rest of the window waits in the batch,
 * in the same order, and enters a lane as one of these is admitted. A lane's queue then holds a few of a large
 * batch's tasks rather than its whole window, which costs less per task: 50 k io tasks of `Effect.promise`
 * through 8 permits took 2.7–3.0 µs of main-thread time each with 64 queued against 3.6–3.7 µs with the window of
 * 1,024 all queued (2-core VM; 16 measured the same as 64, 256 as 3.4 µs), as fewer tasks are kept live at
 * once. Tasks admitted at once (a free permit) do not count: a lane with more permits still fills them all.
 */
const maxQueuedInLane = 64
type AnyResult = TaskResult<unknown, unknown>

/** How a batch runs. */
export interface BatchOptions {
  /**
   * Tasks in flight at once (queued in their lane or running); a positive integer or `Infinity`. Of these, at
   * most {@link maxQueuedInLane} wait in lanes' queues.
   */
  readonly concurrency: number
  /** Whether the first failure interrupts the rest and fails the whole. */
  readonly failFast: boolean
}

/**
 * One task of the window. It is its own lane admission, so queueing it allocates nothing more; its lane calls
 * it back when it is admitted, rejected or shut out.
 */
class Run extends Admission {
  readonly batch: Batch
  readonly index: number
  readonly prepared: Prepared<unknown, unknown, unknown>
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Whether it waits in its lane's queue (counted in the batch's `queued`). */
  inLane = false
  /** Whether it is in the batch's window, and its neighbours there. */
  linked = false
  previousInWindow: Run | undefined = undefined
  nextInWindow: Run | undefined = undefined

  constructor(batch: Batch, index: number, prepared: Prepared<unknown, unknown, unknown>) {
    // a task with no known level never reaches a lane (it is rejected first)
    super(prepared.priorityRank ?? 0)
    this.batch = batch
    this.index = index
    this.prepared = prepared
  }

  protected admitted(): void {
    const batch = this.batch
    batch.leftLane(this)
    // the lane read the time as it admitted this: by the batch's clock too, unless the lane has another
    const now = this.admittedAt >= 0 && this.core!.clock === batch.clock ? this.admittedAt : -1
    batch.start(this, true, now)
    // its place in the lane's queue is free for the batch's next task
    batch.pump(this.prepared.startedAt)
  }

  protected interrupted(): void {
    this.batch.leftLane(this)
    this.batch.complete(this, this.prepared.finish(Exit.interrupt(this.batch.fiber.id)))
  }

  protected rejected(error: QueueFull): void {
    this.batch.leftLane(this)
    this.batch.complete(this, this.prepared.finish(Exit.fail(error)))
  }
}

class Batch {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly tasks: ReadonlyArray<AnyTask>
  readonly optionsOf: (task: AnyTask) => ExecuteOptions
  readonly concurrency: number
  readonly failFast: boolean
  readonly results: Array<AnyResult>
  readonly clock: Clock.Clock
  /** The window: tasks queued or running, a list through their `previousInWindow`/`nextInWindow`. */
  head: Run | undefined = undefined
  live = 0
  /** Tasks of the window waiting in their lane's queue, at most {@link maxQueuedInLane}. */
  queued = 0
  /** Indices of the tasks in the order they enter the window: by priority, stable; undefined for input order. */
  readonly order: Int32Array | undefined
  /** How many tasks have entered the window. */
  next = 0
  stopping = false
  failure: Cause.Cause<unknown> | undefined = undefined
  pumping = false
  settled = false
  /** The tasks' span maker, made with the first span. */
  spans: TaskSpan.PlainSpans | undefined = undefined
  private lastName: string | undefined = undefined
  private lastSpanName = ""
  resume: ((effect: Effect.Effect<Array<AnyResult>, unknown>) => void) | undefined = undefined
  /** Set when the runner is interrupted: called once the window is empty. */
  onStopped: (() => void) | undefined = undefined

  constructor(
    fiber: Fiber.Fiber<unknown, unknown>,
    tasks: ReadonlyArray<AnyTask>,
    optionsOf: (task: AnyTask) => ExecuteOptions,
    options: BatchOptions
  ) {
    this.fiber = fiber
    this.tasks = tasks
    this.optionsOf = optionsOf
    this.concurrency = options.concurrency
    this.failFast = options.failFast
    this.results = new Array(tasks.length)
    this.order = priorityOrder(tasks)
    this.clock = fiber.getRef(Clock.Clock)
  }

  /**
   * Lets tasks into the window while it has room; re-entrant calls leave it to the loop that runs. `now` is the
   * clock's time when the caller has just read it (a task that finished): the tasks entering in one loop share
   * one reading, their `enqueuedAt`.
   */
  pump(now = -1): void {
    if (this.pumping) return
    this.pumping = true
    try {
      while (
        !this.stopping && this.next < this.tasks.length && this.live < this.concurrency &&
        this.queued < maxQueuedInLane
      ) {
        if (now < 0) now = this.clock.currentTimeMillisUnsafe()
        const next = this.next++
        this.enter(this.order === undefined ? next : this.order[next]!, now)
      }
    } finally {
      this.pumping = false
    }
    this.settle()
  }

  private enter(index: number, now: number): void {
    const task = this.tasks[index]!
    const options = this.optionsOf(task)
    let span: Tracer.Span | undefined
    if (options.span === true) {
      // a batch's tasks mostly share a name: one span name for a run of them, not a string per task
      if (task.name !== this.lastName) {
        this.lastName = task.name
        this.lastSpanName = `task ${task.name}`
      }
      span = (this.spans ??= new TaskSpan.PlainSpans(this.fiber)).make(this.lastSpanName, task)
    }
    const run = new Run(this, index, new Prepared(this.fiber, task, options, span, this.clock, now))
    this.link(run)
    const prepared = run.prepared
    if (prepared.attempt === undefined) return this.complete(run, prepared.finish(prepared.rejected!))
    const lane = options.lane
    if (lane === undefined) return this.start(run, false, now)
    // it may be admitted (or rejected) before `enqueue` returns
    lane.enqueue(run, task.key, lane.clock === this.clock ? now : -1)
    if (run.linked && run.fiber === undefined) {
      run.inLane = true
      this.queued++
    }
  }

  /** `run` is out of its lane's queue: admitted, rejected, shut out or withdrawn. */
  leftLane(run: Run): void {
    if (!run.inLane) return
    run.inLane = false
    this.queued--
  }

  /** The task holds its lane's permit (`admitted`), or has no lane: its attempts start now. */
  start(run: Run, admitted: boolean, now: number): void {
    const prepared = run.prepared
    prepared.start(admitted, now)
    const fiber = Effect.runForkWith(prepared.contextFor(this.fiber.context))(prepared.attempt!)
    run.fiber = fiber
    fiber.addObserver((exit) => {
      // A failure that stops the batch withdraws its queued tasks first, so the permit given back next does not
      // start one of them.
      if (exit._tag === "Failure") this.failed(exit.cause)
      // the permit goes back before the result is made, as a task submitted alone gives it back at its exit
      // (a task without a lane holds none, and this does nothing)
      run.release()
      this.complete(run, prepared.finish(exit as Exit.Exit<unknown, ExecutionError>))
    })
  }

  complete(run: Run, result: AnyResult): void {
    this.results[run.index] = result
    this.unlink(run)
    if (result.exit._tag === "Failure") this.failed(result.exit.cause)
    this.pump(result.finishedAt)
  }

  /** With failFast, the first failure stops the batch and becomes its own. */
  private failed(cause: Cause.Cause<unknown>): void {
    if (!this.failFast || this.stopping) return
    this.failure = cause
    this.stop()
  }

  /**
   * Withdraws the queued tasks (cancelled), then interrupts the running ones, whose observers complete them: in
   * that order, since a permit that an interrupted task gives back would otherwise start a queued one.
   */
  stop(): void {
    this.stopping = true
    const interrupted = Exit.interrupt(this.fiber.id)
    const running: Array<Fiber.Fiber<unknown, unknown>> = []
    for (let run = this.head; run !== undefined;) {
      const next = run.nextInWindow
      if (run.fiber !== undefined) running.push(run.fiber)
      else {
        // in its lane's queue, or admitted there and not yet started: either way it gives its place back
        this.optionsOf(run.prepared.task).lane!.cancel(run)
        this.leftLane(run)
        this.results[run.index] = run.prepared.finish(interrupted)
        this.unlink(run)
      }
      run = next
    }
    for (const fiber of running) fiber.interruptUnsafe(this.fiber.id)
  }

  private link(run: Run): void {
    run.linked = true
    run.nextInWindow = this.head
    if (this.head !== undefined) this.head.previousInWindow = run
    this.head = run
    this.live++
  }

  private unlink(run: Run): void {
    if (!run.linked) return
    run.linked = false
    const previous = run.previousInWindow
    const next = run.nextInWindow
    if (previous === undefined) this.head = next
    else previous.nextInWindow = next
    if (next !== undefined) next.previousInWindow = previous
    run.previousInWindow = run.nextInWindow = undefined
    this.live--
  }

  /** Resumes the runner once nothing is left to do. */
  private settle(): void {
    if (this.settled || this.pumping || this.live > 0) return
    if (!this.stopping && this.next < this.tasks.length) return
    this.settled = true
    const onStopped = this.onStopped
    if (onStopped !== undefined) return onStopped()
    this.resume!(this.failure === undefined ? Exit.succeed(this.results) : Exit.failCause(this.failure))
  }

  /** The runner was interrupted: stop, then call `done` once the window is empty. */
  interrupt(done: () => void): void {
    if (this.settled) return done()
    this.onStopped = done
    this.stop()
    this.settle()
  }
}

/**
 * The tasks' indices by priority, most urgent first and in input order within a level, so that the window takes
 * them as one priority queue over the whole batch would (a critical task at the end of a large batch does not
 * wait for the window to reach it); undefined when every task has the same level. An unknown level goes first,
 * since it fails at once.
 */
const priorityOrder = (tasks: ReadonlyArray<AnyTask>): Int32Array | undefined => {
  const first = tasks[0]!.priority
  let mixed = false
  for (let i = 1; i < tasks.length && !mixed; i++) mixed = tasks[i]!.priority !== first
  if (!mixed) return undefined
  const ranks = new Int8Array(tasks.length)
  const counts = [0, 0, 0, 0, 0]
  for (let i = 0; i < tasks.length; i++) {
    const rank = rankOf(tasks[i]!.priority)
    const bucket = rank === undefined ? 0 : rank + 1
    ranks[i] = bucket
    counts[bucket]!++
  }
  const starts = [0, 0, 0, 0, 0]
  for (let bucket = 1; bucket < 5; bucket++) starts[bucket] = starts[bucket - 1]! + counts[bucket - 1]!
  const order = new Int32Array(tasks.length)
  for (let i = 0; i < tasks.length; i++) order[starts[ranks[i]!]!++] = i
  return order
}

/** Whether the runner can take these tasks: every lane fiberless, every span makeable without an effect. */
const runnable = (
  fiber: Fiber.Fiber<unknown, unknown>,
  tasks: ReadonlyArray<AnyTask>,
  optionsOf: (task: AnyTask) => ExecuteOptions
): boolean => {
  let plain: boolean | undefined
  for (let i = 0; i < tasks.length; i++) {
    const options = optionsOf(tasks[i]!)
    if (options.admit !== undefined && options.lane === undefined) return false
    if (options.span === true && !(plain ??= TaskSpan.isPlain(fiber))) return false
  }
  return true
}

const failOnFailure = (result: AnyResult): Effect.Effect<AnyResult, unknown> =>
  Exit.isSuccess(result.exit) ? Effect.succeed(result) : Effect.failCause(result.exit.cause)

/**
 * Runs `tasks` to their results, in input order, with their execution options (`optionsOf`, by task); see the
 * module notes.
 */
export const executeAll = (
  tasks: ReadonlyArray<AnyTask>,
  optionsOf: (task: AnyTask) => ExecuteOptions,
  options: BatchOptions
): Effect.Effect<Array<AnyResult>, unknown, unknown> =>
  Effect.withFiber((fiber) => {
    if (tasks.length === 0) return Effect.succeed([])
    if (!runnable(fiber, tasks, optionsOf)) {
      const concurrency = options.concurrency === Infinity ? "unbounded" : options.concurrency
      return options.failFast
        ? Effect.forEach(tasks, (task) => Effect.flatMap(execute(task, optionsOf(task)), failOnFailure), {
          concurrency
        })
        : Effect.forEach(tasks, (task) => execute(task, optionsOf(task)), { concurrency })
    }
    const batch = new Batch(fiber, tasks, optionsOf, options)
    return Effect.callback<Array<AnyResult>, unknown>((resume) => {
      batch.resume = resume
      batch.pump()
      return Effect.callback<void>((stopped) => batch.interrupt(() => stopped(Exit.void)))
    })
  })
