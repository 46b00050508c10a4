/**
 * The scheduler's state machine: permits, the admission queue, the holding lane for a full queue, the rate gate,
 * metrics, resize and shutdown. Everything here is synchronous and runs inside the fibers that call it; the
 * only fiber of its own is the rate gate, and only when a rate is configured.
 *
 * Admission is a direct hand-off: a task that ends gives its permit to the next waiter on the spot (no permit
 * is returned to a pool for waiters to race for) and resumes that waiter's fiber with its task, so no Deferred,
 * fiber or dispatcher is involved. Resumes go through a trampoline (`flush`), so a chain of tasks that end at
 * once runs one after the other instead of nesting on the stack.
 *
 * A waiter's task runs inside the `Effect.callback` it waited in. That callback's cancellation hook therefore
 * also fires when the running task is interrupted; the waiter's state (`RUNNING`) makes it a no-op there, and the
 * permit is released once, by the task's own exit hook.
 *
 * @internal
 */
import { Clock, Context, Duration, Effect, Exit, Metric, Result, Scheduler as EffectScheduler, Schema } from "effect"
import type { Scope } from "effect"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import { defaultDurationBucketsSeconds, SchedulerConfig } from "../../domain/Config.ts"
import type { SchedulerConfigInput } from "../../domain/Config.ts"
import { QueueFull } from "../../domain/OrchestratorError.ts"
import type { InvalidConfig } from "../../domain/OrchestratorError.ts"
import { levels, rankOf } from "../../domain/TaskPriority.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import { decodeConfig } from "../config/ConfigValidation.ts"
import { counterHooks, gaugeHooks, Histogram, histogramHooks, OwnedSeries } from "../metrics/MetricHooks.ts"
import { Entry, holdingLane, PriorityQueue } from "./PriorityQueue.ts"
import type { KeyGroup } from "./PriorityQueue.ts"

/** Options of one submission. */
export interface SubmitOptions {
  /** Default `"normal"`. */
  readonly priority?: TaskPriority | undefined
  /** Fairness key (tenant, user, host); tasks without one share a single group. */
  readonly key?: string | undefined
}

/** A snapshot of the scheduler's state. */
export interface SchedulerStats {
  /** Tasks allowed to run at once. */
  readonly permits: number
  /** Tasks holding a permit now. */
  readonly running: number
  /** Tasks waiting in the queue, by their current level (aging included). */
  readonly queued: { readonly [P in TaskPriority]: number }
  /** Sum of `queued`. */
  readonly queuedTotal: number
  /** Submitters suspended because the queue was at capacity (`overflow: "suspend"`). */
  readonly waitingForCapacity: number
  /** Tasks admitted since the scheduler started (each got a permit). */
  readonly admitted: number
  /** Submissions rejected with `QueueFull` (`overflow: "fail"`). */
  readonly rejected: number
  /** Promotions by aging (one per level climbed). */
  readonly promoted: number
  /** Whether the scheduler's scope has closed. */
  readonly shutDown: boolean
}

/** The scheduler service's interface, the one declaration of it (`Scheduler` in `src/layers/Scheduler.ts`). */
export interface SchedulerService {
  /**
   * Waits for admission (priority, fairness key, capacity, rate), then runs `effect` holding one permit and
   * releases it when `effect` ends, however it ends. Interrupting the caller while it waits removes the task
   * from the queue. Fails with `QueueFull` only when the queue is at capacity and `overflow` is `"fail"`.
   */
  readonly submit: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ) => Effect.Effect<A, E | QueueFull, R>
  /** Sets the number of permits; grows admit waiters at once, shrinks let running tasks finish. */
  readonly resize: (permits: number) => Effect.Effect<void, InvalidConfig>
  /** Running, queued per level, waiting for capacity, admitted, rejected, promoted, permits. */
  readonly stats: Effect.Effect<SchedulerStats>
}

/** The scheduler's metrics. Their series are registered by each scheduler and read from its state on export. */
export const metrics = {
  queued: Metric.gauge("orchestrator_scheduler_queued", {
    description: "Tasks waiting for a permit, by current priority level (attribute `priority`)"
  }),
  waitingForCapacity: Metric.gauge("orchestrator_scheduler_waiting_for_capacity", {
    description: "Submitters suspended because the queue is at capacity"
  }),
  running: Metric.gauge("orchestrator_scheduler_running", { description: "Tasks holding a permit" }),
  permits: Metric.gauge("orchestrator_scheduler_permits", { description: "Tasks allowed to run at once" }),
  admitted: Metric.counter("orchestrator_scheduler_admitted_total", {
    description: "Tasks admitted (given a permit)",
    incremental: true
  }),
  rejected: Metric.counter("orchestrator_scheduler_rejected_total", {
    description: "Submissions rejected because the queue was full",
    incremental: true
  }),
  promoted: Metric.counter("orchestrator_scheduler_promoted_total", {
    description: "Promotions of waiting tasks by aging",
    incremental: true
  }),
  /** Time from submission to admission, in seconds; buckets from the config's `durationBucketsSeconds`. */
  waitSeconds: Metric.histogram("orchestrator_scheduler_wait_seconds", {
    description: "Time from submission to admission, in seconds",
    boundaries: defaultDurationBucketsSeconds
  })
} as const

const WAITING = 0
const HELD = 1
/** Handed a permit; its fiber is about to be resumed with its task. */
const ADMITTED = 2
/** Its task runs: the permit is released by the task's own exit, not by a cancellation. */
const RUNNING = 3
const CANCELLED = 4

type Resume = (effect: Effect.Effect<any, any, any>) => void

/**
 * A submission that had to wait. Its fiber is suspended in `Effect.callback` and is resumed with the task itself
 * (wrapped to release the permit on exit), so nothing but this object and the callback is kept while it waits.
 */
class Waiter extends Entry {
  state = WAITING
  submittedAt = 0
  /** When it was handed its permit, by the scheduler's clock; -1 when that was not read (an admission at once). */
  admittedAt = -1
  resume: Resume | undefined = undefined
  task: Effect.Effect<any, any, any> | undefined

  constructor(priority: number, group: KeyGroup | undefined, task: Effect.Effect<any, any, any>) {
    super(priority)
    this.group = group
    this.task = task
  }

  /** Resumes the fiber with its task, which now owns the permit. */
  start(core: SchedulerCore): void {
    const group = this.group!
    const task = this.task!
    this.state = RUNNING
    this.task = undefined
    // not `interruptible: true`: an interrupted fiber skips frames that leave it interruptible, and this one runs
    // in the interruptible region of `restore`
    this.resume!(Effect.onExitPrimitive(task, () => {
      core.release(group)
      return undefined
    }))
  }

  /** The scheduler shut down while this waited. */
  interrupt(): void {
    this.resume!(Effect.interrupt)
  }
}

/**
 * A submission that waits with no fiber: its owner (a batch runner, see `BatchExecution`) subclasses it, queues
 * it through a {@link Lane}, and is called back when it is admitted, and starts the task then. The queue treats
 * it as any waiter (priority, aging, key, capacity, rate), so a batch's tasks and single submissions are admitted
 * in one order. A batch of 50 k tasks then keeps 50 k of these small objects, not 50 k suspended fibers; and as
 * the owner's own object is the admission, waiting allocates nothing more.
 */
export abstract class Admission extends Waiter {
  /** The scheduler it was queued in, set by {@link Lane.enqueue}. */
  core: SchedulerCore | undefined = undefined

  /** `priority`: the level's rank (0 = critical … 3 = low). */
  constructor(priority: number) {
    super(priority, undefined, Effect.void)
  }

  /** It holds a permit now; {@link release} gives it back and must be called when its task ends. */
  protected abstract admitted(): void
  /** The scheduler shut down before it was admitted. */
  protected abstract interrupted(): void
  /** The queue was at capacity and its overflow is `"fail"`. */
  protected abstract rejected(error: QueueFull): void

  override start(): void {
    this.state = RUNNING
    this.task = undefined
    this.admitted()
  }

  /** Gives the permit back once its task has ended; a second call, or one before admission, does nothing. */
  release(): void {
    if (this.state !== RUNNING) return
    this.state = CANCELLED
    this.core!.release(this.group!)
  }

  override interrupt(): void {
    this.interrupted()
  }

  reject(error: QueueFull): void {
    this.rejected(error)
  }
}

/**
 * A lane's admission without a waiting fiber: `enqueue` queues an admission under a fairness key (or admits or
 * rejects it at once, calling it back before it returns), and `cancel` withdraws one. Cancelling one that was
 * admitted and started is a no-op: its `release` gives the permit back.
 */
export interface Lane {
  /** The scheduler's clock, by which its times are read. */
  readonly clock: Clock.Clock
  /** `now`: the time by {@link clock} when the caller has just read it, else -1. */
  readonly enqueue: (admission: Admission, key: string | undefined, now: number) => void
  readonly cancel: (admission: Admission) => void
}

const decodePermits = decodeConfig(Schema.Struct({ permits: SchedulerConfig.fields.permits }), "scheduler")

class SchedulerCore {
  permits: number
  running = 0
  admitted = 0
  rejected = 0
  closed = false
  readonly queue: PriorityQueue<Waiter>
  readonly capacity: number
  readonly failWhenFull: boolean
  readonly rateLimited: boolean
  readonly wait: Histogram
  /** The rate gate's fiber, parked until a waiter may be admitted. */
  gateWake: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private pendingHead: Waiter | undefined = undefined
  private pendingTail: Waiter | undefined = undefined
  private flushing = false
  readonly clock: Clock.Clock
  private readonly dispatcher: EffectScheduler.SchedulerDispatcher

  constructor(config: SchedulerConfig, clock: Clock.Clock, dispatcher: EffectScheduler.SchedulerDispatcher) {
    this.permits = config.permits
    this.capacity = config.capacity ?? Infinity
    this.failWhenFull = config.overflow === "fail"
    this.rateLimited = config.rate !== undefined
    this.queue = new PriorityQueue({ agingMillis: config.aging, perKeyLimit: config.perKeyLimit })
    this.wait = new Histogram(config.durationBucketsSeconds, 1 / 1000)
    this.clock = clock
    this.dispatcher = dispatcher
  }

  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /**
   * Takes a permit without queueing. Sound because `drain` runs after every change: while a permit is free, no
   * waiter that may run is left in the queue, so nobody is overtaken.
   */
  tryAcquire(group: KeyGroup): boolean {
    if (this.rateLimited || this.closed || this.running >= this.permits || !this.queue.canRun(group)) return false
    this.running++
    this.queue.acquire(group)
    this.admitted++
    this.wait.record(0)
    return true
  }

  release(group: KeyGroup): void {
    this.running--
    this.queue.release(group)
    if (!this.closed) this.drain()
    this.queue.dropIfIdle(group)
  }

  /** Queues an admission without a fiber (see {@link Admission}), or admits or rejects it at once. */
  enqueueAdmission(admission: Admission, now: number): void {
    if (this.closed) return admission.interrupt()
    if (this.tryAcquire(admission.group!)) {
      admission.admittedAt = now
      return admission.start()
    }
    const full = this.place(admission, now < 0 ? this.now() : now)
    if (full !== undefined) admission.reject(full)
  }

  /** Registers a waiter whose fast path failed; returns its cancellation, or resumes it at once. */
  enqueue(waiter: Waiter, resume: Resume): Effect.Effect<void> | undefined {
    if (this.closed) {
      resume(Effect.interrupt)
      return undefined
    }
    waiter.resume = resume
    // the fiber may have yielded between its fast-path check and here
    if (this.tryAcquire(waiter.group!)) {
      waiter.start(this)
      return undefined
    }
    const full = this.place(waiter)
    if (full !== undefined) {
      resume(Effect.fail(full))
      return undefined
    }
    return Effect.sync(() => this.cancel(waiter))
  }

  /**
   * Puts a waiter that cannot start now in the queue, or in the holding lane when the queue is at capacity and
   * its overflow suspends; at capacity with overflow `"fail"`, returns the `QueueFull` it is rejected with.
   */
  private place(waiter: Waiter, now = this.now()): QueueFull | undefined {
    const group = waiter.group!
    if (this.queue.queued >= this.capacity) {
      if (this.failWhenFull) {
        this.rejected++
        this.queue.dropIfIdle(group)
        return new QueueFull({ capacity: this.capacity, priority: levels[waiter.priority]! })
      }
      waiter.state = HELD
      waiter.submittedAt = now
      this.queue.hold(waiter, group, now)
    } else {
      waiter.state = WAITING
      waiter.submittedAt = now
      this.queue.push(waiter, group, now)
    }
    if (this.rateLimited) this.wakeGate()
    return undefined
  }

  /**
   * The waiter's fiber was interrupted while it waited, or between its admission and its resumption. Also runs,
   * as a no-op, when a task that started from the queue is interrupted: its own exit releases the permit.
   */
  cancel(waiter: Waiter): void {
    switch (waiter.state) {
      case WAITING: {
        waiter.state = CANCELLED
        this.queue.remove(waiter)
        this.refill(this.now())
        this.queue.dropIfIdle(waiter.group!)
        return
      }
      case HELD: {
        waiter.state = CANCELLED
        this.queue.remove(waiter)
        this.queue.dropIfIdle(waiter.group!)
        return
      }
      case ADMITTED: {
        // it was handed a permit it will never use
        waiter.state = CANCELLED
        waiter.task = undefined
        this.release(waiter.group!)
        return
      }
    }
  }

  /** Hands free permits to waiters, most urgent first, and resumes them. */
  drain(): void {
    if (this.rateLimited) {
      this.wakeGate()
      return
    }
    let now = -1
    while (this.running < this.permits && this.queue.hasEligible()) {
      if (now < 0) now = this.now()
      this.admit(this.queue.pop(now)!, now)
    }
    if (now >= 0) this.refill(now)
    this.flush()
  }

  /** Lets held submitters into the queue while it has room. */
  refill(now: number): void {
    while (this.queue.queued < this.capacity && this.queue.depth[holdingLane]! > 0) {
      this.queue.admitHeld(now)!.state = WAITING
    }
  }

  canAdmit(): boolean {
    return !this.closed && this.running < this.permits && this.queue.hasEligible()
  }

  /** Admits one waiter; used by the rate gate, which has taken a token for it. */
  admitOne(): boolean {
    if (!this.canAdmit()) return false
    const now = this.now()
    this.admit(this.queue.pop(now)!, now)
    this.refill(now)
    this.flush()
    return true
  }

  private admit(waiter: Waiter, now: number): void {
    waiter.state = ADMITTED
    this.running++
    this.queue.acquire(waiter.group!)
    this.admitted++
    // a wall clock set back must not record a negative wait
    this.wait.record(now > waiter.submittedAt ? now - waiter.submittedAt : 0)
    waiter.admittedAt = now
    // `next` is free once the waiter is out of the queue: reuse it for the list of fibers to resume
    waiter.next = undefined
    if (this.pendingTail === undefined) this.pendingHead = waiter
    else this.pendingTail.next = waiter
    this.pendingTail = waiter
  }

  /** Resumes admitted waiters one after the other; re-entrant calls only append to the list. */
  private flush(): void {
    if (this.flushing) return
    this.flushing = true
    try {
      let waiter: Waiter | undefined
      while ((waiter = this.pendingHead) !== undefined) {
        this.pendingHead = waiter.next as Waiter | undefined
        if (this.pendingHead === undefined) this.pendingTail = undefined
        waiter.next = undefined
        if (waiter.state === ADMITTED) waiter.start(this)
      }
    } finally {
      this.flushing = false
    }
  }

  wakeGate(): void {
    const wake = this.gateWake
    if (wake !== undefined && this.canAdmit()) {
      this.gateWake = undefined
      this.dispatcher.scheduleTask(() => wake(Exit.void), 0)
    }
  }

  resize(permits: number): void {
    this.permits = permits
    if (!this.closed) this.drain()
  }

  stats(): SchedulerStats {
    const queue = this.queue
    if (!this.closed) queue.age(this.now())
    const depth = queue.depth
    return {
      permits: this.permits,
      running: this.running,
      queued: { critical: depth[0]!, high: depth[1]!, normal: depth[2]!, low: depth[3]! },
      queuedTotal: queue.queued,
      waitingForCapacity: depth[holdingLane]!,
      admitted: this.admitted,
      rejected: this.rejected,
      promoted: queue.promoted,
      shutDown: this.closed
    }
  }

  /** Interrupts every waiter; running tasks keep their permits and finish. */
  shutdown(): void {
    if (this.closed) return
    this.closed = true
    this.gateWake = undefined
    const waiters = this.queue.takeAll()
    for (const waiter of waiters) {
      waiter.state = CANCELLED
      waiter.task = undefined
    }
    for (const waiter of waiters) waiter.interrupt()
  }

  submit<A, E, R>(effect: Effect.Effect<A, E, R>, options?: SubmitOptions): Effect.Effect<A, E | QueueFull, R> {
    return Effect.uninterruptibleMask((restore): Effect.Effect<A, E | QueueFull, R> => {
      if (this.closed) return Effect.interrupt
      const priority = options?.priority === undefined ? 2 : rankOf(options.priority)
      if (priority === undefined) {
        return Effect.die(new TypeError(`unknown task priority: ${String(options?.priority)}`))
      }
      const group = this.queue.group(options?.key)
      if (this.tryAcquire(group)) {
        return Effect.onExitPrimitive(restore(effect), () => {
          this.release(group)
          return undefined
        }, true)
      }
      // resumed with the task itself, which then runs interruptibly inside `restore`
      const waiter = new Waiter(priority, group, effect)
      return restore(Effect.callback<A, E | QueueFull, R>((resume) => this.enqueue(waiter, resume)))
    })
  }
}

const registerMetrics = (core: SchedulerCore, context: Context.Context<never>) => {
  const series = new OwnedSeries(context)
  levels.forEach((priority, level) =>
    series.add(Metric.withAttributes(metrics.queued, { priority }), gaugeHooks(() => core.queue.depth[level]!))
  )
  series.add(metrics.waitingForCapacity, gaugeHooks(() => core.queue.depth[holdingLane]!))
  series.add(metrics.running, gaugeHooks(() => core.running))
  series.add(metrics.permits, gaugeHooks(() => core.permits))
  series.add(metrics.admitted, counterHooks(() => core.admitted))
  series.add(metrics.rejected, counterHooks(() => core.rejected))
  series.add(metrics.promoted, counterHooks(() => core.queue.promoted))
  series.add(metrics.waitSeconds, histogramHooks(core.wait))
  // at close: the final values stay for an exporter's last flush
  return () => series.freeze()
}

/**
 * The rate gate: one fiber that takes a token from Effect's `RateLimiter` before each admission. It parks while
 * nothing may be admitted and sleeps until the next window when the limit is reached. A token taken for a waiter
 * that was cancelled meanwhile is kept for the next one.
 */
const rateGate = (core: SchedulerCore, rate: NonNullable<SchedulerConfig["rate"]>) => {
  // Loaded here, by the first scheduler with a rate, not imported: `effect/persistence` is not part of the
  // `effect` barrel, and most programs never set a rate (see `breakers` in CircuitBreakers.ts for the measure).
  // `require` of an ES module gives the same instance as `import`.
  const Limiter = process.getBuiltinModule("node:module").createRequire(import.meta.url)(
    "effect/persistence/RateLimiter"
  ) as typeof RateLimiter
  return Effect.gen(function*() {
    const limiter = yield* Limiter.make
    const window = Duration.millis(rate.interval)
    const park = Effect.callback<void>((resume) => {
      if (core.canAdmit()) {
        resume(Exit.void)
        return undefined
      }
      core.gateWake = resume
      return Effect.sync(() => {
        core.gateWake = undefined
      })
    })
    let token = false
    while (true) {
      yield* park
      if (!token) {
        const taken = yield* Effect.result(limiter.consume({
          key: "scheduler",
          limit: rate.limit,
          window,
          algorithm: "fixed-window",
          onExceeded: "fail"
        }))
        if (Result.isFailure(taken)) {
          const reason = taken.failure.reason
          if (reason._tag !== "RateLimitExceeded") return yield* Effect.die(taken.failure)
          // at least a microsecond: `interval / limit` per token accumulates float error, and a retry of a
          // few femtoseconds vanishes when added to the clock, which would make the gate spin
          yield* Effect.sleep(Math.max(0.001, Duration.toMillis(reason.retryAfter)))
          continue
        }
        token = true
      }
      if (core.admitOne()) token = false
    }
  }).pipe(Effect.provide(Limiter.layerStoreMemory))
}

/** Builds a scheduler in the current scope; see `Scheduler.make`. */
export const make = (
  input?: SchedulerConfigInput
): Effect.Effect<SchedulerService, InvalidConfig, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* decodeConfig(SchedulerConfig, "scheduler")(input)
    const context = yield* Effect.context<never>()
    const clock = Context.get(context, Clock.Clock)
    const dispatcher = Context.get(context, EffectScheduler.Scheduler).makeDispatcher()
    const core = new SchedulerCore(config, clock, dispatcher)
    const unregister = registerMetrics(core, context)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        core.shutdown()
        unregister()
      })
    )
    if (config.rate !== undefined) yield* Effect.forkScoped(rateGate(core, config.rate))
    const service: SchedulerService = {
      submit: (effect, options) => core.submit(effect, options),
      resize: (permits) => Effect.map(decodePermits({ permits }), (decoded) => core.resize(decoded.permits)),
      stats: Effect.sync(() => core.stats())
    }
    lanes.set(service, {
      clock,
      enqueue: (admission, key, now) => {
        admission.group = core.queue.group(key)
        admission.core = core
        core.enqueueAdmission(admission, now)
      },
      cancel: (admission) => core.cancel(admission)
    })
    return service
  })

/** The fiberless admission of each scheduler built here, by its service (see {@link laneOf}). */
const lanes = new WeakMap<SchedulerService, Lane>()

/**
 * The fiberless admission of a scheduler built by {@link make}; undefined for any other implementation of the
 * service, whose callers then go through `submit`.
 */
export const laneOf = (service: SchedulerService): Lane | undefined => lanes.get(service)
