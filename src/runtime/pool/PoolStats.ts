/**
 * The read-only view of a pool's state that `WorkerPool.stats` returns, projected from the dispatcher's
 * workers and counters when asked, never kept up to date on the per-call path.
 *
 * @internal
 */
import type { Slot } from "./Call.ts"
import { BOOTING, DEAD, READY, STOPPING } from "./Call.ts"

/** Read-only view of the pool's state. */
export interface PoolStats {
  /** Workers started or starting. */
  readonly workers: number
  /** Workers still booting. */
  readonly booting: number
  /** Workers running at least one call. */
  readonly busy: number
  /** Ready workers running nothing. */
  readonly idle: number
  /** Calls waiting for a worker. */
  readonly queued: number
  /** Calls waiting in the queue's levels, by their current level (aging included). */
  readonly queuedByPriority: {
    readonly critical: number
    readonly high: number
    readonly normal: number
    readonly low: number
  }
  /** Calls held because the queue was at its capacity (`queue.overflow: "suspend"`). */
  readonly waitingForCapacity: number
  /** Promotions of waiting calls by aging. */
  readonly promoted: number
  /** Calls rejected with `QueueFull` (`queue.overflow: "fail"`). */
  readonly rejectedFull: number
  /** Calls sent to a worker and not answered yet. */
  readonly inFlight: number
  /** Calls answered with a success. */
  readonly completed: number
  /** Calls that failed (typed errors, defects, crashes, timeouts). */
  readonly failed: number
  /** Workers that died unexpectedly. */
  readonly crashed: number
  /** Workers started over the pool's life, the first ones included. */
  readonly spawned: number
  /** Calls sent again to another worker because their worker died or was terminated before they started. */
  readonly redispatched: number
  /** Worker boots that failed over the pool's life (the pool keeps retrying once it has been up). */
  readonly bootFailures: number
  /** The error of the last failed boot, as `Name: message`; undefined while none failed. */
  readonly lastBootError: string | undefined
  /** Share of worker time spent with at least one call in flight, over the pool's life (0..1). */
  readonly utilisation: number
  /** Ids of the workers started or starting: the ids in `TaskResult.workerId` and `WorkerCrashed.workerId`. */
  readonly workerIds: ReadonlyArray<number>
}

/** The dispatcher's counters that the view reports as they are. */
export interface PoolCounters {
  readonly queued: number
  /** Calls per level of the queue, then held (see `CallQueue.depth`). */
  readonly queueDepth: ReadonlyArray<number>
  readonly promoted: number
  readonly rejectedFull: number
  readonly completed: number
  readonly failed: number
  readonly crashed: number
  readonly spawned: number
  readonly redispatched: number
  readonly bootFailures: number
  readonly lastBootError: string | undefined
  /** Busy and lifetime milliseconds of the workers that have exited. */
  readonly retiredBusyMillis: number
  readonly retiredLifeMillis: number
}

export const project = (slots: ReadonlyArray<Slot>, counters: PoolCounters): PoolStats => {
  let booting = 0
  let busy = 0
  let idle = 0
  let inFlight = 0
  let busyMillis = counters.retiredBusyMillis
  let lifeMillis = counters.retiredLifeMillis
  const now = performance.now()
  const workerIds: Array<number> = []
  for (const slot of slots) {
    if (slot.state === DEAD) continue
    workerIds.push(slot.id)
    if (slot.state === BOOTING) booting++
    else if (slot.inFlight.size > 0) busy++
    else if (slot.state === READY) idle++
    inFlight += slot.inFlight.size
    busyMillis += slot.busyMillis + (slot.inFlight.size > 0 && slot.state < STOPPING ? now - slot.busySince : 0)
    lifeMillis += now - slot.startedAt
  }
  return {
    workers: slots.length,
    booting,
    busy,
    idle,
    queued: counters.queued,
    queuedByPriority: {
      critical: counters.queueDepth[0]!,
      high: counters.queueDepth[1]!,
      normal: counters.queueDepth[2]!,
      low: counters.queueDepth[3]!
    },
    waitingForCapacity: counters.queueDepth[4]!,
    promoted: counters.promoted,
    rejectedFull: counters.rejectedFull,
    inFlight,
    completed: counters.completed,
    failed: counters.failed,
    crashed: counters.crashed,
    spawned: counters.spawned,
    redispatched: counters.redispatched,
    bootFailures: counters.bootFailures,
    lastBootError: counters.lastBootError,
    utilisation: lifeMillis > 0 ? Math.min(1, busyMillis / lifeMillis) : 0,
    workerIds
  }
}
