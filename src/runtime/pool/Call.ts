/**
 * A call and a worker as the pool's dispatcher tracks them: plain mutable records, one allocation each, so the
 * per-call path costs a few microseconds (see `Dispatch.ts`).
 *
 * States are small integers with names, because the dispatcher compares them by order. Both only ever move
 * forward, never back, so `state >= STOPPING` reads "the worker takes no more messages" and `state < STOPPING`
 * "it may still answer":
 * - a call: `QUEUED` → `SENT` → (`ABANDONED` →) `DONE`; a call whose worker died (or was terminated) before
 *   it started goes back to `QUEUED`, the one exception, and only from `SENT`;
 * - a worker: `BOOTING` → `READY` → (`RETIRING` →) `STOPPING` → `DEAD`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Exit from "effect/Exit"
import type { TransferListItem } from "node:worker_threads"
import { Entry } from "../scheduler/PriorityQueue.ts"
import type { CallTelemetry, ValueCodec } from "../wire/Protocol.ts"
import type { Transport } from "./Transport.ts"
import type { WorkerAssignment } from "./WorkerAssignment.ts"

/** Waiting in the pool's queue. */
export const QUEUED = 0
/** Sent to a worker (running there, or waiting behind the call it runs). */
export const SENT = 1
/** The caller is gone (interrupted or timed out) but the worker has not confirmed the stop yet. */
export const ABANDONED = 2
/** Answered, failed or dropped: nothing more happens to it. */
export const DONE = 3
/** Where a call is; ordered, see the module notes. */
export type CallState = typeof QUEUED | typeof SENT | typeof ABANDONED | typeof DONE

/** Started; no call is sent to it until it says it is ready. */
export const BOOTING = 0
/** Takes calls. */
export const READY = 1
/** Takes no new calls; stopped once its calls are done (recycling, idle shrink). */
export const RETIRING = 2
/** Being stopped or terminated; its calls have been dealt with. */
export const STOPPING = 3
/** Exited. */
export const DEAD = 4
/** Where a worker is; ordered, see the module notes. */
export type WorkerState = typeof BOOTING | typeof READY | typeof RETIRING | typeof STOPPING | typeof DEAD

/**
 * Receives the outcome of a call: its `Exit`; or, when the worker shipped what the handler traced and logged,
 * an Effect that replays that in the caller's fiber and then is the `Exit` (`Effect.callback`'s resume runs it).
 */
export type Resume = (outcome: Effect.Effect<any, any>) => void

/**
 * Answers in a row that completed without suspending after which a task counts as synchronous (see
 * {@link TaskStats.synchronous}): enough that a handler which only sometimes suspends (a cache hit answered at
 * once, a miss awaited) is seldom taken for a synchronous one, few enough that a burst reaches it in its first
 * round trips.
 */
export const synchronousAfter = 8

/** Plain counters of one task name, and how much synchronous worker time its calls take. */
export class TaskStats {
  completed = 0
  failed = 0
  /** Moving average of the synchronous time (ms) of its calls in the worker; undefined until one answered. */
  cpuMillis: number | undefined = undefined
  /** Its latest answers in a row that completed without suspending (capped at {@link synchronousAfter}). */
  private streak = 0
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
  /**
   * Records an answer's `cpu` as the worker sent it: the synchronous time (ms), negated when the handler
   * suspended before it completed (see `Protocol`).
   */
  record(cpu: number): void {
    let cpuMillis = cpu
    if (cpu < 0) {
      cpuMillis = -cpu
      this.streak = 0
    } else if (this.streak < synchronousAfter) this.streak++
    // Quick to adapt: the first calls of a task are often slow (cold code) and should not mark it for long.
    this.cpuMillis = this.cpuMillis === undefined ? cpuMillis : (this.cpuMillis + cpuMillis) / 2
  }
  /**
   * Whether its calls complete without suspending (the last {@link synchronousAfter} did): a worker then runs
   * them one after another, never several at once, so they may be pipelined past `concurrentTasksPerWorker`
   * (see `Placement.pick`).
   */
  get synchronous(): boolean {
    return this.streak >= synchronousAfter
  }
}

/**
 * Told by the pool, once, how a call ended: its exit, its wait in the pool's queue and its time on a worker
 * (milliseconds by `performance.now()`; both 0 for a call rejected before it was queued, the run 0 for one
 * that never left the queue). A cancelled caller's call ends with an interruption. The orchestrator's task
 * metrics for calls it hands over directly, with no frame around the call.
 */
export interface CallObserver {
  readonly settled: (exit: Exit.Exit<unknown, unknown>, queueWaitMillis: number, runMillis: number) => void
}

/** Whoever cancels a call whose caller is gone: the dispatcher (see {@link Call.asEffect}). */
export interface CallCanceller {
  readonly cancel: (call: Call) => void
}

/**
 * What every call of one task shares on one pool: its counters, its index in the workers' table and its codecs,
 * so that a call holds one reference instead of five (20 k calls in flight are 20 k of them).
 */
export interface TaskRoute {
  readonly stats: TaskStats
  readonly index: number
  readonly success: ValueCodec | undefined
  readonly error: ValueCodec | undefined
  readonly canceller: CallCanceller
}

/**
 * The queue's `Entry` with Effect's prototype in its chain (`Effectable.Mixin`), typed with exported names only:
 * the mixin's own type names a class Effect does not export, which the declaration files could not name.
 */
const EffectableEntry = Effectable.Mixin(Entry) as unknown as
  & typeof Entry
  & (abstract new(...args: Array<any>) => Effect.Effect<void> & { asEffect(): Effect.Effect<void> })

/**
 * A call as the dispatcher tracks it. One object per call, kept small because a burst of tiny calls keeps tens
 * of thousands alive at once, and the garbage collector pays for every live byte at each scavenge:
 * - it is its own node in the pool's queue (an `Entry` of the scheduler's queue), not wrapped in one;
 * - what the calls of a task share is one {@link TaskRoute};
 * - it is the effect that cancels it (`asEffect`), which the caller's `Effect.callback` runs when the caller is
 *   interrupted, so a call needs no closure and no effect of its own for that.
 */
export class Call extends EffectableEntry {
  readonly id: number
  readonly route: TaskRoute
  /** Already encoded for the wire. */
  readonly payload: unknown
  /** 0: no timeout. */
  readonly timeoutMillis: number
  readonly enqueuedAt: number
  // The optional parts, set by the caller before `Engine.enqueue` (a request object per call would be one more
  // allocation on the hottest path).
  /** The caller's `taskId`, if it gave one; see {@link taskIdOf}. */
  taskId: string | undefined = undefined
  /** Moves these buffers to the worker; set with {@link moves}. */
  transfer: Array<TransferListItem> | undefined = undefined
  /** Bytes of the buffers its transfer list moves (see `Placement.pipelineBytes`). */
  bytes = 0
  /** The caller's cell, told the id of each worker the call is sent to (see `WorkerAssignment`). */
  assignment: WorkerAssignment | undefined = undefined
  /** Fairness key while it waits: keys take turns within a level. */
  key: string | undefined = undefined
  /** The caller's span (trace id, span id), sent ahead of the call so the handler runs under it. */
  trace: readonly [traceId: string, spanId: string] | undefined = undefined
  /** Told how the call ended (see `CallObserver`). */
  observer: CallObserver | undefined = undefined
  /** What its handler traced and logged, from its worker's `OP_TELEMETRY` record; replayed as it resumes. */
  telemetry: CallTelemetry | undefined = undefined
  /** The worker that sent `telemetry`. */
  telemetryWorker = 0
  /** Its estimated synchronous work (ms) when it was sent (see `Placement.pipelineBudgetMillis`). */
  cpuEstimate = 0
  resume: Resume | undefined
  state: CallState = QUEUED
  slot: Slot | undefined = undefined
  sentAt = 0
  /**
   * Its number among the run records sent to its worker (an int32 that wraps), compared with the worker's
   * start log after a crash (see `Transport.taken`).
   */
  seq = 0
  timer: ReturnType<typeof setTimeout> | undefined = undefined

  /** `priority`: its rank in the pool's queue (`TaskPriority.rank`: 0 critical … 3 low). */
  constructor(
    id: number,
    route: TaskRoute,
    priority: number,
    payload: unknown,
    timeoutMillis: number,
    resume: Resume,
    enqueuedAt: number
  ) {
    super(priority)
    this.id = id
    this.route = route
    this.payload = payload
    this.timeoutMillis = timeoutMillis
    this.enqueuedAt = enqueuedAt
    this.resume = resume
  }

  /** Moves the buffers of `transfer` to the worker with the payload. */
  moves(transfer: Array<TransferListItem>): void {
    this.transfer = transfer
    this.bytes = movedBytes(transfer)
  }

  get name(): string {
    return this.route.stats.name
  }
  get stats(): TaskStats {
    return this.route.stats
  }
  get index(): number {
    return this.route.index
  }
  get success(): ValueCodec | undefined {
    return this.route.success
  }
  get error(): ValueCodec | undefined {
    return this.route.error
  }

  /** Cancels the call: the effect its caller's `Effect.callback` runs when the caller is interrupted. */
  override asEffect(): Effect.Effect<void> {
    return Effect.sync(() => this.route.canceller.cancel(this))
  }
}

/** One worker as the dispatcher tracks it. */
export interface Slot {
  readonly id: number
  transport: Transport | undefined
  state: WorkerState
  readonly inFlight: Map<number, Call>
  /** Estimated synchronous work (ms) of the calls in flight (see `Placement.pipelineBudgetMillis`). */
  pendingCpu: number
  /** Bytes moved to it by the calls in flight (see `Placement.pipelineBytes`). */
  pendingBytes: number
  /** A CPU-bound call sent to wait behind the one it is running (see `Placement.canWait`). */
  waiting: Call | undefined
  outbox: Array<unknown>
  /** Run records sent to it so far (an int32 that wraps): the `seq` of the last call sent. */
  runsSent: number
  transfer: Array<TransferListItem> | undefined
  flushQueued: boolean
  /** Posts its outbox, now or, while it has a batch's worth of posted calls to answer, at the end of the turn. */
  readonly flush: () => void
  /** Run records in `outbox`, not posted yet. */
  unposted: number
  /** Whether its outbox is to be posted at the end of the turn (see `Dispatch.post`). */
  postLater: boolean
  readonly postDeferred: () => void
  completed: number
  idleSince: number
  busySince: number
  busyMillis: number
  readonly startedAt: number
  /** Why the pool stopped this worker; undefined while nobody asked it to stop. */
  stopReason: string | undefined
  lastError: unknown
  bootTimer: ReturnType<typeof setTimeout> | undefined
}

/** Bytes of the buffers in a transfer list (0 for message ports and other transferables). */
export const movedBytes = (transfer: ReadonlyArray<TransferListItem>): number => {
  let bytes = 0
  for (const item of transfer) {
    const length = (item as { readonly byteLength?: unknown }).byteLength
    if (typeof length === "number") bytes += length
  }
  return bytes
}

/**
 * The id errors report for a call: the caller's, or `<task name>#<call number>`, made only when an error needs
 * it (most calls never fail).
 */
export const taskIdOf = (call: Call): string => call.taskId ?? `${call.name}#${call.id}`
