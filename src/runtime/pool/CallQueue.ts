/**
 * The pool's queue of calls waiting for a worker, and the one place where cpu work waits: the scheduler's
 * four-level queue (`scheduler/PriorityQueue.ts`), so priorities, aging, fairness keys and capacity apply to
 * the calls themselves while the pool keeps every worker's pipeline full. A `critical` call overtakes the
 * `low` ones still queued; calls already sent to a worker are not recalled.
 *
 * - Calls without a priority are `normal` and without a key: one FIFO, O(1) per call.
 * - Within a level, fairness keys take turns; a call that waited `agingMillis` at its level is promoted one
 *   level (see `PriorityQueue`).
 * - With `capacity`, at most that many calls wait in the levels: past it a call is rejected (`overflow:
 *   "fail"`) or held, in arrival order, until there is room (`"suspend"`, the default).
 * - Calls put back after their worker was terminated before they started go first, in their order: they
 *   had already been picked.
 * - A cancelled call is unlinked at once (O(1)).
 *
 * A call is its own entry in the levels (`Call` is an `Entry`): nothing is allocated to queue it.
 *
 * @internal
 */
import { holdingLane, PriorityQueue } from "../scheduler/PriorityQueue.ts"
import type { Call } from "./Call.ts"

/** How the queue orders and bounds calls; the scheduler's settings of the same names. */
export interface CallQueueOptions {
  /** Default 10,000 ms, as the scheduler's. */
  readonly agingMillis?: number | undefined
  /** Calls waiting at most; default unbounded. */
  readonly capacity?: number | undefined
  /** At capacity: `"suspend"` holds the call until there is room, `"fail"` rejects it. Default `"suspend"`. */
  readonly overflow?: "suspend" | "fail" | undefined
}

export class CallQueue {
  private readonly queue: PriorityQueue<Call>
  private readonly capacity: number
  private readonly failWhenFull: boolean
  /** Calls put back after their worker was terminated: served before the levels. */
  private front: Array<Call | undefined> = []
  private frontHead = 0
  /** Calls still waiting (held ones included). */
  size = 0

  constructor(options: CallQueueOptions = {}) {
    this.queue = new PriorityQueue({ agingMillis: options.agingMillis ?? 10_000 })
    this.capacity = options.capacity ?? Infinity
    this.failWhenFull = options.overflow === "fail"
  }

  /** Queues `call`; false when the queue is at capacity and its overflow policy is `"fail"`. */
  push(call: Call): boolean {
    const queue = this.queue
    const now = performance.now()
    const group = queue.group(call.key)
    if (queue.queued >= this.capacity) {
      if (this.failWhenFull) {
        queue.dropIfIdle(group)
        return false
      }
      queue.hold(call, group, now)
    } else {
      queue.push(call, group, now)
    }
    this.size++
    return true
  }

  /** Puts calls back at the front, in their order, ahead of everything queued. */
  unshift(calls: ReadonlyArray<Call>): void {
    if (calls.length === 0) return
    this.front = [...calls, ...this.front.slice(this.frontHead)]
    this.frontHead = 0
    this.size += calls.length
  }

  /** Takes out a queued call whose caller is gone. */
  remove(call: Call): void {
    // In the levels or held (a lane), else put back at the front.
    if (call.lane >= 0) {
      this.queue.remove(call)
      this.afterRemoval(call)
    } else {
      const index = this.front.indexOf(call, this.frontHead)
      if (index < 0) return
      this.front.splice(index, 1)
    }
    this.size--
  }

  /** The call to send next, left in place; undefined when none waits. */
  peek(): Call | undefined {
    if (this.frontHead < this.front.length) return this.front[this.frontHead]
    return this.queue.peek(performance.now())
  }

  /** Takes the call that {@link peek} returned. */
  take(call: Call): void {
    this.size--
    if (call.lane < 0) {
      this.front[this.frontHead++] = undefined
      if (this.frontHead === this.front.length) {
        this.front = []
        this.frontHead = 0
      }
      return
    }
    this.queue.take(call)
    this.afterRemoval(call)
  }

  /** Waiting calls by level (`critical` … `low`) and held for room, as in the scheduler's stats. */
  depth(): ReadonlyArray<number> {
    return this.queue.depth
  }

  /** Promotions by aging so far. */
  get promoted(): number {
    return this.queue.promoted
  }

  /** Empties the queue and returns the calls that were still waiting. */
  drain(): Array<Call> {
    const waiting = this.front.slice(this.frontHead) as Array<Call>
    this.front = []
    this.frontHead = 0
    for (const call of this.queue.takeAll()) waiting.push(call)
    this.size = 0
    return waiting
  }

  private afterRemoval(entry: Call): void {
    const queue = this.queue
    if (queue.depth[holdingLane]! > 0) {
      const now = performance.now()
      while (queue.queued < this.capacity && queue.depth[holdingLane]! > 0) queue.admitHeld(now)
    }
    queue.dropIfIdle(entry.group!)
  }
}
