/**
 * The pool's dispatcher, in plain JavaScript on purpose: the per-call path (validate, enqueue, pick a worker,
 * batch, answer) must cost a few microseconds, so it uses a Map of pending calls keyed by integer id and a
 * callback per call instead of fibers, queues and deferreds. `WorkerPool` wraps it in Effects. It owns the
 * lifecycles of calls and workers (see `Call.ts` for their states); where a call goes is `Placement.ts`, the
 * queue is `CallQueue.ts`, answers are decoded by `Answer.ts` and the stats projected by `PoolStats.ts`.
 *
 * What it guarantees:
 * - FIFO dispatch: see `Placement.ts`; the calls to one worker in one macrotask leave as one message.
 * - A caller interrupted while queued is removed at once. One interrupted while running gets its fiber in the
 *   worker interrupted; a call that does not stop within `terminationGrace` gets its worker terminated.
 * - A call runs at most once. Each worker keeps a start log that the pool reads when the worker is gone (see
 *   `SIGNAL_TAKEN`, `Transport.taken`): when a worker dies (exit, uncaught error, out of memory) or is
 *   terminated, its calls that never started are sent to another worker, at the front of the queue, as if
 *   they had waited there (their timeout starts again); a call that had started fails with `WorkerCrashed`
 *   (its retry policy decides) and is never sent again, and one that had answered keeps its answer (answers
 *   that left a worker before it died are still taken). A call that never started but whose payload buffers
 *   were moved into that thread cannot be sent again: it fails with `WorkerCrashed` too. Where no start log
 *   can be read, every unanswered call counts as started. The queue is untouched and the worker is replaced
 *   with exponential backoff.
 * - A worker that cannot boot is retried with backoff. Until the pool has been up, `maxBootFailures` failed
 *   boots in a row, or no worker ready within `bootTimeout` of the start, break it: queued and new calls
 *   fail with `WorkerBootFailed` carrying the worker's own error. Once it has been up, replacements keep
 *   being retried with capped backoff while calls run on the workers still up; only while none is ready and
 *   `maxBootFailures` boots in a row failed do calls fail with `WorkerBootFailed` (`stats().bootFailures`
 *   and `lastBootError` meanwhile), until a boot succeeds.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import type { PoolConfig } from "../../domain/Config.ts"
import {
  PayloadInvalid,
  PoolShutDown,
  QueueFull,
  TaskTimeout,
  WorkerBootFailed,
  WorkerCrashed
} from "../../domain/OrchestratorError.ts"
import { levels } from "../../domain/TaskPriority.ts"
import { IdleCores } from "../host/IdleCores.ts"
import { Histogram } from "../metrics/MetricHooks.ts"
import {
  isCloneError,
  OP_FATAL,
  OP_HEAP,
  OP_INTERRUPT,
  OP_INTERRUPTED,
  OP_READY,
  OP_RUN,
  OP_TELEMETRY,
  OP_TRACE,
  TO_MAIN_WIDTH,
  TO_WORKER_WIDTH
} from "../wire/Protocol.ts"
import type { CallTelemetry, ValueCodec } from "../wire/Protocol.ts"
import { decode } from "./Answer.ts"
import type { Resume, Slot, TaskRoute } from "./Call.ts"
import {
  ABANDONED,
  BOOTING,
  Call,
  DEAD,
  DONE,
  QUEUED,
  READY,
  RETIRING,
  SENT,
  STOPPING,
  taskIdOf,
  TaskStats
} from "./Call.ts"
import { CallQueue } from "./CallQueue.ts"
import type { CallQueueOptions } from "./CallQueue.ts"
import { pick, pipelineBudgetMillis } from "./Placement.ts"
import type { SpareCores } from "./Placement.ts"
import { project } from "./PoolStats.ts"
import type { PoolStats } from "./PoolStats.ts"
import { replay } from "./TelemetryReplay.ts"
import type { Spawner } from "./Transport.ts"

/** What happened to the pool's workers, as reported to `EngineOptions.onEvent`. */
export type PoolEvent =
  /** A worker died unexpectedly; `calls` of its calls failed with `error`. */
  | { readonly _tag: "WorkerCrashed"; readonly error: WorkerCrashed; readonly calls: number }
  /** A worker started after a crash is ready: the pool is back to its size. */
  | { readonly _tag: "WorkerReplaced"; readonly workerId: number }
  /** A worker failed before it was ready; `final` when the pool gives up (`maxBootFailures` in a row). */
  | {
    readonly _tag: "WorkerBootFailed"
    readonly workerId: number
    readonly attempt: number
    readonly maxAttempts: number
    readonly cause: unknown
    readonly final: boolean
  }

/** What the engine needs besides the configuration. */
export interface EngineOptions {
  readonly config: PoolConfig
  readonly spawner: Spawner
  /** Called when a task name is first seen, so the metrics can register its series. */
  readonly onNewTask?: (stats: TaskStats) => void
  /** Called on the events a user should hear about (the layer logs them); never on the per-call path. */
  readonly onEvent?: (event: PoolEvent) => void
  /** Whether the machine has a core to spare (see `Placement.canWait`); default: sampled from the OS (`IdleCores`). */
  readonly idleCores?: SpareCores
  /** Order and bounds of the calls waiting for a worker (priorities always apply). */
  readonly queue?: CallQueueOptions | undefined
}

const respawnInitialMillis = 50
const respawnMaxMillis = 5_000

/**
 * An error reported by a worker, as an `Error` of this realm (a worker's `error` event may carry an object
 * that is not, and `WorkerBootFailed` keeps it as its cause).
 */
const asError = (error: unknown): unknown => {
  if (error instanceof Error || typeof error !== "object" || error === null) return error
  const source = error as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown }
  const copy = new Error(typeof source.message === "string" ? source.message : "unknown error")
  if (typeof source.name === "string") copy.name = source.name
  if (typeof source.stack === "string") copy.stack = source.stack
  if (source.code !== undefined) Object.assign(copy, { code: source.code })
  return copy
}

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : error === undefined ? "no error reported" : String(error)

/** The engine. One per pool. */
export class Engine {
  readonly config: PoolConfig
  private readonly spawner: Spawner
  private readonly bootTimeout: number
  private readonly onNewTask: ((stats: TaskStats) => void) | undefined
  private readonly onEvent: ((event: PoolEvent) => void) | undefined
  /** Crashed workers whose replacement has not said it is ready yet. */
  private replacementsDue = 0
  private readonly idleCores: SpareCores

  /** Task names by index, from the first worker that became ready. */
  names: ReadonlyArray<string> | undefined
  private indexByName = new Map<string, number>()

  readonly slots: Array<Slot> = []
  private readonly queue: CallQueue
  private readonly queueCapacity: number
  private nextCallId = 1
  private nextWorkerId = 1

  private state: "running" | "closing" | "closed" = "running"
  /** Set when the pool could not come up at all: every call fails with it, for good. */
  broken: WorkerBootFailed | undefined
  /**
   * Set, once the pool has been up, while no worker is ready and `maxBootFailures` boots in a row failed:
   * calls fail with it until a boot succeeds.
   */
  private unavailable: WorkerBootFailed | undefined
  private consecutiveBootFailures = 0
  /** Boots that failed over the pool's life, and the last one's error. */
  bootFailures = 0
  lastBootError: unknown = undefined
  private startTimer: ReturnType<typeof setTimeout> | undefined
  private consecutiveCrashes = 0
  private respawnTimer: ReturnType<typeof setTimeout> | undefined
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private readyWaiters: Array<(error: WorkerBootFailed | PoolShutDown | undefined) => void> = []
  /** Whether a worker has ever been ready; until then at most one boots at a time. */
  private booted = false
  private closeWaiters: Array<() => void> = []
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined
  private retiredBusyMillis = 0
  private retiredLifeMillis = 0

  readonly taskStats = new Map<string, TaskStats>()
  /** Recorded in milliseconds, as measured; reported in seconds over `config.durationBucketsSeconds`. */
  readonly waitTime: Histogram
  readonly runTime: Histogram
  completed = 0
  failed = 0
  crashed = 0
  spawned = 0
  redispatched = 0
  /** Calls rejected because the queue was at capacity. */
  rejectedFull = 0

  constructor(options: EngineOptions) {
    this.config = options.config
    this.spawner = options.spawner
    this.bootTimeout = options.config.bootTimeout
    this.onNewTask = options.onNewTask
    this.onEvent = options.onEvent
    this.waitTime = new Histogram(options.config.durationBucketsSeconds, 1 / 1000)
    this.runTime = new Histogram(options.config.durationBucketsSeconds, 1 / 1000)
    this.idleCores = options.idleCores ?? new IdleCores()
    this.queue = new CallQueue(options.queue)
    this.queueCapacity = options.queue?.capacity ?? Infinity
  }

  // ---------------------------------------------------------------------------------------------------------
  // Boot and shutdown

  /**
   * Starts a worker and calls back when it is ready (then starts the rest of `minWorkers`), or with the boot
   * error once `maxBootFailures` boots in a row failed.
   */
  start(onReady: (error: WorkerBootFailed | PoolShutDown | undefined) => void): void {
    // One worker first: it proves the entry boots, and boots faster without others competing for the CPU. The
    // rest start once it is ready, while the first calls run.
    this.readyWaiters.push(onReady)
    this.spawn()
    // The start as a whole, retries included, is bounded by the boot timeout (not maxBootFailures times it).
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined
      if (this.booted || this.state !== "running" || this.broken !== undefined) return
      // Between two retries no worker is booting: the error names the last one that failed, and counts its boots.
      const booting = this.slots.find((slot) => slot.state === BOOTING)
      this.breakPool(
        booting?.id ?? this.nextWorkerId - 1,
        this.consecutiveBootFailures + (booting === undefined ? 0 : 1),
        this.lastBootError ??
          new Error(
            `the worker did not become ready within ${this.bootTimeout} ms of the pool's start, retries included (does its entry call serve()? does an import hang?)`
          )
      )
    }, this.bootTimeout)
    const every = Math.min(1_000, Math.max(10, this.config.idleTimeout / 2))
    this.sweepTimer = setInterval(() => this.sweep(), every)
    this.sweepTimer.unref()
  }

  /**
   * Stops accepting calls, lets queued and running calls finish until `shutdownDeadline`, then fails
   * what is left with `PoolShutDown`, terminates every worker and calls back once all have exited.
   */
  shutdown(onClosed: () => void): void {
    this.closeWaiters.push(onClosed)
    if (this.state !== "running") {
      if (this.state === "closed" && this.slots.length === 0) this.notifyClosed()
      return
    }
    this.state = "closing"
    this.failReadyWaiters(new PoolShutDown({ service: "WorkerPool" }))
    if (this.drained()) return this.finish()
    this.deadlineTimer = setTimeout(() => this.finish(), this.config.shutdownDeadline)
  }

  private drained(): boolean {
    if (this.queue.size > 0) return false
    for (const slot of this.slots) if (slot.inFlight.size > 0) return false
    return true
  }

  private finish(): void {
    if (this.state === "closed") return
    this.state = "closed"
    // Stryker disable CallExpression: equivalent, each of these timers' callbacks checks the state first
    clearTimeout(this.deadlineTimer)
    clearTimeout(this.respawnTimer)
    clearTimeout(this.startTimer)
    clearInterval(this.sweepTimer)
    // Stryker restore CallExpression
    const error = new PoolShutDown({ service: "WorkerPool" })
    this.failQueued(Exit.fail(error))
    for (const slot of this.slots) {
      for (const call of slot.inFlight.values()) this.settle(call, Exit.fail(error))
      slot.inFlight.clear()
      slot.pendingCpu = 0
      slot.pendingBytes = 0
      slot.waiting = undefined
      if (slot.state < STOPPING) this.stop(slot, "pool shut down", true)
      else slot.transport?.terminate()
    }
    if (this.slots.length === 0) this.notifyClosed()
  }

  private notifyClosed(): void {
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const waiter of waiters) waiter()
  }

  private failReadyWaiters(error: WorkerBootFailed | PoolShutDown | undefined): void {
    const waiters = this.readyWaiters
    this.readyWaiters = []
    for (const waiter of waiters) waiter(error)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Calls

  /** The index of a task name in the workers' table, or undefined. */
  indexOf(name: string): number | undefined {
    return this.indexByName.get(name)
  }

  /** Why a new call cannot be accepted now, or undefined when it can. */
  rejection(): PoolShutDown | WorkerBootFailed | undefined {
    if (this.state !== "running") return new PoolShutDown({ service: "WorkerPool" })
    return this.broken ?? this.unavailable
  }

  /** The per-name counters of a task, created on first use. */
  statsOf(name: string): TaskStats {
    let stats = this.taskStats.get(name)
    if (stats === undefined) {
      stats = new TaskStats(name)
      this.taskStats.set(name, stats)
      this.onNewTask?.(stats)
    }
    return stats
  }

  /**
   * What the calls of task `name` share (see `TaskRoute`): `index` in the workers' table, and its codecs. A
   * caller keeps it for the task's next calls.
   */
  route(name: string, index: number, success?: ValueCodec, error?: ValueCodec): TaskRoute {
    return { stats: this.statsOf(name), index, success, error, canceller: this }
  }

  /**
   * A new call of `route`, not queued yet: the caller sets its optional parts, then {@link enqueue}s it.
   * `priority` is its rank (`TaskPriority.rank`), `timeoutMillis` 0 for none.
   */
  newCall(route: TaskRoute, priority: number, payload: unknown, timeoutMillis: number, resume: Resume): Call {
    return new Call(this.nextCallId++, route, priority, payload, timeoutMillis, resume, performance.now())
  }

  /** Counts a call rejected before it was sent (bad input, pool closed or broken). */
  rejected(name: string): void {
    this.failed++
    this.statsOf(name).failed++
  }

  /**
   * Queues a call made by {@link newCall}, or sends it at once. Undefined when the queue is full and its overflow
   * policy is `"fail"` (its `resume` has been called with `QueueFull`).
   */
  enqueue(call: Call): Call | undefined {
    if (this.queue.size === 0) {
      const slot = this.pick(call, 1)
      if (slot !== undefined) {
        this.send(slot, call)
        this.scale()
        return call
      }
    }
    if (!this.queue.push(call)) {
      call.state = DONE
      this.rejected(call.name)
      this.rejectedFull++
      const exit = Exit.fail(
        new QueueFull({ capacity: this.queueCapacity, priority: levels[call.priority] ?? "normal" })
      )
      const resume = call.resume!
      call.resume = undefined
      call.observer?.settled(exit, 0, 0)
      resume(exit)
      return undefined
    }
    this.scale()
    return call
  }

  /** The caller of `call` was interrupted. */
  cancel(call: Call): void {
    if (call.state === QUEUED) {
      call.state = DONE
      call.resume = undefined
      this.observe(call, Exit.interrupt())
      this.queue.remove(call)
      if (this.state === "closing" && this.drained()) this.finish()
    } else if (call.state === SENT) {
      call.state = ABANDONED
      call.resume = undefined
      clearTimeout(call.timer)
      this.observe(call, Exit.interrupt())
      this.interrupt(call)
    }
  }

  /** Tells the call's observer how it ended, with its queue wait and run time until now. */
  private observe(call: Call, exit: Exit.Exit<unknown, unknown>): void {
    const observer = call.observer
    if (observer === undefined) return
    const now = performance.now()
    // `sentAt` is 0 while it waits; a call waiting behind the one running (`slot.waiting`) starts with its answer
    const started = call.sentAt > 0 ? call.sentAt : now
    observer.settled(exit, started - call.enqueuedAt, now - started)
  }

  private settle(call: Call, exit: Exit.Exit<any, any>): void {
    clearTimeout(call.timer)
    const resume = call.resume
    call.resume = undefined
    call.state = DONE
    if (resume === undefined) return
    if (exit._tag === "Success") {
      this.completed++
      call.stats.completed++
    } else {
      this.failed++
      call.stats.failed++
    }
    this.observe(call, exit)
    const telemetry = call.telemetry
    if (telemetry === undefined) return resume(exit)
    call.telemetry = undefined
    resume(replay(telemetry, call.name, call.telemetryWorker, exit))
  }

  private failQueued(exit: Exit.Exit<never, any>): void {
    for (const call of this.queue.drain()) this.settle(call, exit)
  }

  private requeueFront(calls: ReadonlyArray<Call>): void {
    for (const call of calls) {
      clearTimeout(call.timer)
      call.timer = undefined
      call.state = QUEUED
      call.slot = undefined
      this.redispatched++
    }
    this.queue.unshift(calls)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Dispatch

  private pick(call: Call, queued: number): Slot | undefined {
    return pick(
      this.slots,
      call,
      queued,
      this.config,
      // Stryker disable next-line all: equivalent, no worker is ever ready in a broken pool and none is picked once closed
      this.broken === undefined && this.state !== "closed",
      this.idleCores
    )
  }

  private pump(): void {
    const queue = this.queue
    for (let call = queue.peek(); call !== undefined; call = queue.peek()) {
      const slot = this.pick(call, queue.size)
      if (slot === undefined) break
      queue.take(call)
      this.send(slot, call)
    }
  }

  private send(slot: Slot, call: Call): void {
    call.state = SENT
    call.slot = slot
    const now = performance.now()
    if (call.assignment !== undefined) {
      call.assignment.workerId = slot.id
      call.assignment.sentAt ??= now
    }
    if (slot.inFlight.size === 0) slot.busySince = now
    // Unknown tasks count as CPU-bound until their first answer: a burst of heavy calls is spread over the
    // workers from the start, at the price of one round trip for a burst of light ones.
    call.cpuEstimate = call.stats.cpuMillis ?? pipelineBudgetMillis
    // Over the budget only as a call that waits behind the one running (`canWait`): it starts with the answer
    // of that one.
    const waits = slot.inFlight.size > 0 && slot.pendingCpu + call.cpuEstimate > pipelineBudgetMillis
    slot.inFlight.set(call.id, call)
    slot.pendingCpu += call.cpuEstimate
    slot.pendingBytes += call.bytes
    if (call.trace !== undefined) slot.outbox.push(OP_TRACE, call.id, call.trace[0], call.trace[1])
    slot.outbox.push(OP_RUN, call.id, call.index, call.payload)
    slot.unposted++
    call.seq = slot.runsSent = (slot.runsSent + 1) | 0
    if (call.transfer !== undefined) {
      slot.transfer = slot.transfer === undefined ? call.transfer : slot.transfer.concat(call.transfer)
    }
    this.flushSoon(slot)
    if (waits) slot.waiting = call
    else this.started(call, now)
  }

  /** A call starts in its worker: its wait ends, and its run time and timeout start. */
  private started(call: Call, now: number): void {
    call.sentAt = now
    this.waitTime.record(now - call.enqueuedAt)
    if (call.timeoutMillis > 0) call.timer = setTimeout(this.onTimeout, call.timeoutMillis, call)
  }

  /** Posts the worker's outbox at the end of this tick, with whatever else is added to it until then. */
  private flushSoon(slot: Slot): void {
    // Stryker disable next-line all: equivalent, a second flush finds the outbox empty (this saves a microtask)
    if (slot.flushQueued) return
    // Stryker disable next-line all: equivalent, as above
    slot.flushQueued = true
    queueMicrotask(slot.flush)
  }

  /** Posts every worker's pending calls, now or at the end of the turn (see {@link post}). */
  private flushAll(): void {
    const slots = this.slots
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, flush returns on an empty outbox
    for (let i = 0; i < slots.length; i++) if (slots[i]!.outbox.length > 0) this.post(slots[i]!)
  }

  /**
   * Posts the worker's outbox now, unless it still has a batch's worth (`concurrentTasksPerWorker`) of posted
   * calls to answer: then more answers are on their way, each with its refill, and the outbox is posted once at
   * the end of the turn (`setImmediate`) with all of them. That is one message and one wake-up of the worker
   * instead of one per answer batch, and this thread, when it is what limits the pool, spends less on sends.
   * Measured (20 k tiny `offload` calls, 2 workers, answers every 16): 1,250 sends a round of 16 calls each,
   * the worker asleep at about half of them, each wake-up 8-20 µs of this thread in `Atomics.notify`.
   */
  private post(slot: Slot): void {
    slot.flushQueued = false
    if (slot.inFlight.size - slot.unposted < this.config.concurrentTasksPerWorker) return this.flush(slot)
    if (slot.postLater) return
    slot.postLater = true
    setImmediate(slot.postDeferred)
  }

  private flush(slot: Slot): void {
    slot.flushQueued = false
    const batch = slot.outbox
    if (batch.length === 0 || slot.transport === undefined || slot.state >= STOPPING) return
    const transfer = slot.transfer
    slot.outbox = []
    slot.unposted = 0
    slot.transfer = undefined
    try {
      slot.transport.send(batch, transfer)
    } catch {
      this.sendOneByOne(slot, batch)
    }
  }

  /**
   * A value in the batch cannot be sent (not cloneable, or a getter that throws while it is cloned): nothing
   * was sent. Sends each call alone and rejects the bad ones, renumbering the runs that did leave. When even
   * an empty batch cannot be sent, the transport is broken, not a payload: the worker is stopped and its calls
   * go to another worker.
   */
  private sendOneByOne(slot: Slot, batch: Array<unknown>): void {
    let seq = slot.runsSent
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) if (batch[i] === OP_RUN) seq = (seq - 1) | 0
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
      const record = batch.slice(i, i + TO_WORKER_WIDTH)
      const call = slot.inFlight.get(record[1] as number)
      try {
        slot.transport!.send(record, record[0] === OP_RUN ? call?.transfer : undefined)
        if (record[0] === OP_RUN && call !== undefined) call.seq = seq = (seq + 1) | 0
      } catch (error) {
        if (!isCloneError(error) && !this.canSend(slot)) {
          slot.lastError = error
          slot.runsSent = seq
          return this.stop(slot, `sending to the worker failed: ${describe(error)}`, true)
        }
        if (record[0] !== OP_RUN || call === undefined) continue
        this.release(slot, call)
        this.settle(
          call,
          Exit.fail(
            new PayloadInvalid({
              taskName: call.name,
              reason: "not-cloneable",
              detail: `the payload cannot be sent to a worker: ${describe(error)}`
            })
          )
        )
      }
    }
    slot.runsSent = seq
    this.pump()
  }

  /** Whether the transport still takes a message (an empty batch, which a worker reads as nothing to do). */
  private canSend(slot: Slot): boolean {
    try {
      slot.transport!.send([], undefined)
      return true
    } catch {
      return false
    }
  }

  /** Removes an answered (or rejected) call from its worker. */
  private release(slot: Slot, call: Call): void {
    slot.inFlight.delete(call.id)
    const waiting = slot.waiting
    if (waiting !== undefined) {
      slot.waiting = undefined
      if (waiting !== call) this.startWaiting(waiting)
    }
    slot.pendingCpu = slot.inFlight.size === 0 ? 0 : slot.pendingCpu - call.cpuEstimate
    slot.pendingBytes = slot.inFlight.size === 0 ? 0 : slot.pendingBytes - call.bytes
    call.slot = undefined
    if (slot.inFlight.size === 0) {
      const now = performance.now()
      slot.idleSince = now
      slot.busyMillis += now - slot.busySince
      if (slot.state === RETIRING) this.stop(slot, slot.stopReason ?? "retired", false)
    }
  }

  private readonly onTimeout = (call: Call): void => {
    call.timer = undefined
    if (call.state !== SENT) return
    const resume = call.resume
    call.state = ABANDONED
    call.resume = undefined
    this.failed++
    call.stats.failed++
    // The interrupt goes out before the caller resumes, so it precedes whatever the caller sends next.
    this.interrupt(call)
    resume?.(
      Exit.fail(new TaskTimeout({ taskId: taskIdOf(call), taskName: call.name, timeoutMillis: call.timeoutMillis }))
    )
  }

  /** Asks the worker to interrupt a call whose caller is gone, and arms the grace timer. */
  private interrupt(call: Call): void {
    const slot = call.slot
    if (slot === undefined || slot.state >= STOPPING) return
    const grace = this.config.terminationGrace
    const waiting = slot.waiting === call
    if (grace <= 0 && !waiting) {
      return this.terminate(slot, `task "${call.name}" (${taskIdOf(call)}) was cancelled and the grace period is 0`)
    }
    // A waiting call is skipped if the worker has not started it yet; the interrupt is for when it has, and
    // its grace period starts when the call ahead of it answers.
    if (waiting) slot.transport!.skip!(call.id)
    slot.outbox.push(OP_INTERRUPT, call.id, 0, 0)
    // At the end of this tick, never deferred to the end of the turn (`post`): the worker should stop at once.
    queueMicrotask(() => this.flush(slot))
    if (!waiting) call.timer = setTimeout(this.onGraceOver, grace, call)
  }

  /** The call ahead of a waiting call answered: the worker starts the waiting one now (or skips it). */
  private startWaiting(call: Call): void {
    const now = performance.now()
    if (call.state === SENT) return this.started(call, now)
    if (call.state === ABANDONED) call.timer = setTimeout(this.onGraceOver, this.config.terminationGrace, call)
  }

  private readonly onGraceOver = (call: Call): void => {
    call.timer = undefined
    const slot = call.slot
    if (call.state !== ABANDONED || slot === undefined) return
    this.terminate(
      slot,
      `task "${call.name}" (${
        taskIdOf(call)
      }) did not stop within ${this.config.terminationGrace} ms of being cancelled`
    )
  }

  /**
   * Terminates a worker that will not let go of a cancelled call. Its other calls stay on it until it has
   * exited: then its start log says which never started (sent again) and which had (failed), see `onExit`.
   * Answers that leave it meanwhile are still taken.
   */
  private terminate(slot: Slot, reason: string): void {
    if (slot.state >= STOPPING) return
    this.stop(slot, reason, true)
    this.scale()
  }

  /** Stops a worker the pool no longer wants. Its calls must have been dealt with already. */
  private stop(slot: Slot, reason: string, force: boolean): void {
    if (slot.state >= STOPPING) return
    if (slot.inFlight.size > 0) slot.busyMillis += performance.now() - slot.busySince
    // A call waiting behind the one running starts no timer meanwhile.
    slot.waiting = undefined
    slot.state = STOPPING
    slot.stopReason = reason
    slot.outbox = []
    slot.transfer = undefined
    clearTimeout(slot.bootTimer)
    if (force) slot.transport?.terminate()
    else slot.transport?.close()
  }

  /** Takes a worker out of rotation; it stops once its calls are done. */
  private retire(slot: Slot, reason: string): void {
    if (slot.state !== READY) return
    slot.state = RETIRING
    slot.stopReason = reason
    if (slot.inFlight.size === 0) this.stop(slot, reason, false)
    this.scale()
  }

  private sweep(): void {
    if (this.state !== "running") return
    const idleTimeout = this.config.idleTimeout
    const now = performance.now()
    let live = this.liveCount()
    // Not below what `scale` would start again at once (the calls in flight count as load).
    const keep = this.target()
    for (const slot of this.slots) {
      if (live <= keep) break
      if (slot.state === READY && slot.inFlight.size === 0 && now - slot.idleSince >= idleTimeout) {
        this.retire(slot, "idle")
        live--
      }
    }
  }

  private liveCount(): number {
    let live = 0
    for (const slot of this.slots) if (slot.state === BOOTING || slot.state === READY) live++
    return live
  }

  /**
   * Starts workers up to what the load asks for: one per queued or running call, between `minWorkers` and
   * `maxWorkers`. After failures, new workers wait an exponential backoff.
   */
  private scale(): void {
    if (this.state === "closed" || this.broken !== undefined || this.respawnTimer !== undefined) return
    const missing = (this.booted ? this.target() : Math.min(1, this.target())) - this.liveCount()
    if (missing <= 0) return
    const failures = this.consecutiveBootFailures + this.consecutiveCrashes
    if (failures > 0) {
      const delay = Math.min(respawnMaxMillis, respawnInitialMillis * 2 ** (failures - 1))
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined
        // Asked again: a drain that began meanwhile may need no worker at all.
        if (this.state !== "closed" && this.broken === undefined && this.liveCount() < this.target()) this.spawn()
        this.scale()
      }, delay)
      return
    }
    for (let i = 0; i < missing; i++) this.spawn()
  }

  /** How many workers the load asks for: one per queued or running call, between `minWorkers` and `maxWorkers`. */
  private target(): number {
    let inFlight = 0
    for (const slot of this.slots) if (slot.state === READY || slot.state === BOOTING) inFlight += slot.inFlight.size
    const demand = this.state === "closing" ? (this.queue.size > 0 ? 1 : 0) : this.queue.size + inFlight
    return Math.min(this.config.maxWorkers, Math.max(this.state === "closing" ? 0 : this.config.minWorkers, demand))
  }

  // ---------------------------------------------------------------------------------------------------------
  // Workers

  private spawn(): void {
    const id = this.nextWorkerId++
    this.spawned++
    const slot: Slot = {
      id,
      transport: undefined,
      state: BOOTING,
      inFlight: new Map(),
      pendingCpu: 0,
      pendingBytes: 0,
      waiting: undefined,
      outbox: [],
      runsSent: 0,
      transfer: undefined,
      flushQueued: false,
      flush: () => this.post(slot),
      unposted: 0,
      postLater: false,
      postDeferred: () => {
        slot.postLater = false
        this.flush(slot)
      },
      completed: 0,
      idleSince: performance.now(),
      busySince: 0,
      busyMillis: 0,
      startedAt: performance.now(),
      stopReason: undefined,
      lastError: undefined,
      bootTimer: undefined
    }
    this.slots.push(slot)
    slot.bootTimer = setTimeout(() => {
      slot.bootTimer = undefined
      if (slot.state !== BOOTING) return
      slot.lastError = new Error(
        `the worker did not become ready within ${this.bootTimeout} ms (does its entry call serve()?)`
      )
      slot.transport?.terminate()
    }, this.bootTimeout)
    try {
      slot.transport = this.spawner(id, {
        onMessage: (batch) => this.onMessage(slot, batch),
        onError: (error) => {
          slot.lastError = asError(error)
        },
        onExit: (code, signal) => this.onExit(slot, code, signal)
      })
    } catch (error) {
      slot.lastError = error
      queueMicrotask(() => this.onExit(slot, null, null))
    }
  }

  private onReady(slot: Slot, info: { readonly names: ReadonlyArray<string> }): void {
    clearTimeout(slot.bootTimer)
    slot.bootTimer = undefined
    if (slot.state !== BOOTING) return
    if (this.names === undefined) {
      this.names = info.names
      this.indexByName = new Map(info.names.map((name, index) => [name, index]))
    }
    slot.state = READY
    slot.idleSince = performance.now()
    this.consecutiveBootFailures = 0
    this.unavailable = undefined
    this.booted = true
    if (this.replacementsDue > 0) {
      this.replacementsDue--
      this.onEvent?.({ _tag: "WorkerReplaced", workerId: slot.id })
    }
    clearTimeout(this.startTimer)
    this.failReadyWaiters(undefined)
    this.pump()
    // Before `scale` starts the other workers: creating a thread takes the main thread about a millisecond.
    this.flushAll()
    this.scale()
  }

  private onMessage(slot: Slot, batch: ReadonlyArray<unknown>): void {
    // A worker being stopped still answers: those calls ran, and must not be failed or sent again.
    if (slot.state === DEAD) return
    let answered = 0
    // Callers resume after the workers have been refilled: a caller's continuation (its fiber, and whatever
    // it does next) can take tens of microseconds, which an idle worker would otherwise wait for.
    let settled: Array<Call> | undefined
    let exits: Array<Exit.Exit<any, any>> | undefined
    for (let i = 0; i < batch.length; i += TO_MAIN_WIDTH) {
      const op = batch[i] as number
      if (op === OP_READY) {
        this.onReady(slot, batch[i + 2] as { names: ReadonlyArray<string> })
        continue
      }
      if (op === OP_HEAP) {
        const maxHeapMb = this.config.maxHeapMb
        if (maxHeapMb !== undefined && (batch[i + 2] as number) > maxHeapMb * 1024 * 1024) {
          this.retire(slot, `heap above ${maxHeapMb} MB`)
        }
        continue
      }
      if (op === OP_FATAL) {
        slot.lastError = asError(batch[i + 2])
        continue
      }
      const call = slot.inFlight.get(batch[i + 1] as number)
      if (call === undefined) continue
      if (op === OP_TELEMETRY) {
        call.telemetry = batch[i + 2] as CallTelemetry
        call.telemetryWorker = slot.id
        continue
      }
      // An interrupted call's time says nothing about the task's cost (a skipped one took none).
      if (op !== OP_INTERRUPTED) call.stats.record(batch[i + 3] as number)
      answered++
      this.release(slot, call)
      // Before the caller resumes (and maybe calls again at once), so its next call avoids a retiring worker.
      if (++slot.completed === this.config.maxTasksPerWorker) this.retire(slot, `ran ${slot.completed} tasks`)
      if (call.state === ABANDONED) {
        clearTimeout(call.timer)
        call.state = DONE
        continue
      }
      this.runTime.record(performance.now() - call.sentAt)
      ;(settled ??= []).push(call)
      ;(exits ??= []).push(decode(call, op, batch[i + 2]))
    }
    if (answered > 0) {
      this.consecutiveCrashes = 0
      this.pump()
      // Posted now rather than at the end of the microtask queue, which the resumed callers' continuations
      // would run first.
      this.flushAll()
      if (settled !== undefined) { for (let i = 0; i < settled.length; i++) this.settle(settled[i]!, exits![i]!) }
      if (this.state === "closing" && this.drained()) this.finish()
    }
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    if (slot.state === DEAD) return
    const wasBooting = slot.state === BOOTING
    const deliberate = slot.stopReason !== undefined
    if (slot.inFlight.size > 0 && slot.state < STOPPING) slot.busyMillis += performance.now() - slot.busySince
    slot.state = DEAD
    clearTimeout(slot.bootTimer)
    const index = this.slots.indexOf(slot)
    if (index >= 0) this.slots.splice(index, 1)
    const now = performance.now()
    this.retiredBusyMillis += slot.busyMillis
    this.retiredLifeMillis += now - slot.startedAt

    const crashed = !wasBooting && !deliberate
    if (wasBooting && !deliberate) {
      this.onBootFailure(slot, code, signal)
    } else if (crashed) {
      this.crashed++
      this.consecutiveCrashes++
    }
    const crash = deliberate ? undefined : this.crashError(slot, code, signal)
    const failed = slot.inFlight.size > 0 ? this.settleOrphans(slot, crash) : 0
    if (crashed) {
      if (this.state === "running") this.replacementsDue++
      this.onEvent?.({ _tag: "WorkerCrashed", error: crash!, calls: failed })
    }
    slot.inFlight.clear()
    slot.pendingCpu = 0
    slot.pendingBytes = 0
    slot.waiting = undefined

    if (this.state === "closed") {
      if (this.slots.length === 0) this.notifyClosed()
      return
    }
    this.pump()
    this.scale()
    if (this.state === "closing" && this.drained()) this.finish()
  }

  /**
   * The calls of a worker that is gone: those its start log shows it never started go back to the front of
   * the queue; the others fail with `crash`, or, for a worker the pool stopped, with `WorkerCrashed`
   * (terminated, with the reason). Returns how many failed.
   */
  private settleOrphans(slot: Slot, crash: WorkerCrashed | undefined): number {
    const taken = slot.transport?.taken?.()
    const moved = slot.transport?.canTransfer === true
    const again: Array<Call> = []
    let failed = 0
    const failWith = (detail: string): WorkerCrashed =>
      crash !== undefined
        ? new WorkerCrashed({ ...crash, detail: `${crash.detail}; ${detail}` })
        : new WorkerCrashed({
          workerId: slot.id,
          exitCode: null,
          signal: null,
          reason: "terminated",
          detail: `${slot.stopReason ?? "terminated"}; ${detail}`
        })
    for (const call of slot.inFlight.values()) {
      if (call.state !== SENT) {
        clearTimeout(call.timer)
        call.state = DONE
        continue
      }
      const started = taken === undefined || ((call.seq - taken) | 0) <= 0
      if (!started && !(moved && call.transfer !== undefined && call.transfer.length > 0)) {
        again.push(call)
        continue
      }
      failed++
      this.settle(
        call,
        Exit.fail(
          started
            ? (crash ?? failWith("this call had started on it"))
            : failWith(
              "this call had not started, but its payload buffers were moved to that worker, so it cannot be sent again"
            )
        )
      )
    }
    this.requeueFront(again)
    return failed
  }

  private crashError(slot: Slot, code: number | null, signal: string | null): WorkerCrashed {
    const error = slot.lastError as { code?: unknown } | undefined
    const oom = error?.code === "ERR_WORKER_OUT_OF_MEMORY"
    const reason = oom ? "out-of-memory" : slot.lastError !== undefined ? "uncaught" : "exit"
    const detail = oom
      ? `the worker ran out of memory${this.config.resourceLimits ? " (resourceLimits reached)" : ""}`
      : slot.lastError !== undefined
      ? `uncaught in the worker: ${describe(slot.lastError)}`
      : `the worker exited${code !== null ? ` with code ${code}` : ""}${signal !== null ? ` on ${signal}` : ""}`
    return new WorkerCrashed({ workerId: slot.id, exitCode: code, signal, reason, detail })
  }

  private onBootFailure(slot: Slot, code: number | null, signal: string | null): void {
    this.consecutiveBootFailures++
    this.bootFailures++
    const cause = slot.lastError ??
      new Error(
        `the worker exited${code !== null ? ` with code ${code}` : ""}${
          signal !== null ? ` on ${signal}` : ""
        } before it was ready (does its entry call serve()?)`
      )
    this.lastBootError = cause
    // Final only for a pool that never came up: one that has been up keeps trying (see `scale`).
    const final = !this.booted && this.consecutiveBootFailures >= this.config.maxBootFailures
    this.onEvent?.({
      _tag: "WorkerBootFailed",
      workerId: slot.id,
      attempt: this.consecutiveBootFailures,
      maxAttempts: this.config.maxBootFailures,
      cause,
      final
    })
    if (this.consecutiveBootFailures < this.config.maxBootFailures) return
    if (!this.booted) return this.breakPool(slot.id, this.consecutiveBootFailures, cause)
    // The pool has been up: it keeps trying (see `scale`), and fails calls only while no worker can run them.
    for (const other of this.slots) if (other.state === READY) return
    this.unavailable = new WorkerBootFailed({ workerId: slot.id, attempts: this.consecutiveBootFailures, cause })
    this.failQueued(Exit.fail(this.unavailable))
  }

  /** The pool could not come up: every call fails with `WorkerBootFailed`, and no worker is started again. */
  private breakPool(workerId: number, attempts: number, cause: unknown): void {
    const error = new WorkerBootFailed({ workerId, attempts, cause })
    this.broken = error
    clearTimeout(this.respawnTimer)
    this.respawnTimer = undefined
    clearTimeout(this.startTimer)
    this.failQueued(Exit.fail(error))
    this.failReadyWaiters(error)
    // Workers still booting would only fail the same way.
    for (const other of this.slots) if (other.state === BOOTING) this.stop(other, "pool is broken", true)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Stats

  stats(): PoolStats {
    return project(this.slots, {
      queued: this.queue.size,
      queueDepth: this.queue.depth(),
      promoted: this.queue.promoted,
      rejectedFull: this.rejectedFull,
      completed: this.completed,
      failed: this.failed,
      crashed: this.crashed,
      spawned: this.spawned,
      redispatched: this.redispatched,
      bootFailures: this.bootFailures,
      lastBootError: this.lastBootError === undefined ? undefined : describe(this.lastBootError),
      retiredBusyMillis: this.retiredBusyMillis,
      retiredLifeMillis: this.retiredLifeMillis
    })
  }
}
