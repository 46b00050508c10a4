/**
 * The pool's queue of calls waiting for a worker: FIFO, with calls put back at the front when their worker was
 * terminated before they started.
 *
 * An array read from a moving head, so taking a call is O(1) and nothing is copied per call; the consumed
 * prefix is dropped when it is empty or when it is most of the array. A cancelled call is not searched for:
 * it is counted out at once (`forget`) and skipped when the head reaches it.
 *
 * @internal
 */
import type { Call } from "./Call.ts"
import { QUEUED } from "./Call.ts"

export class CallQueue {
  private items: Array<Call | undefined> = []
  private head = 0
  /** Calls still waiting: cancelled ones are no longer counted. */
  size = 0

  push(call: Call): void {
    this.items.push(call)
    this.size++
  }

  /** Puts calls back at the front, in their order, ahead of everything queued. */
  unshift(calls: ReadonlyArray<Call>): void {
    if (calls.length === 0) return
    this.items = [...calls, ...this.items.slice(this.head)]
    this.head = 0
    this.size += calls.length
  }

  /** A queued call's caller is gone: it no longer counts, and is skipped when reached. */
  forget(): void {
    this.size--
  }

  /** The first call still waiting, left in place; undefined when none is. */
  peek(): Call | undefined {
    const items = this.items
    while (this.head < items.length) {
      const call = items[this.head]
      if (call !== undefined && call.state === QUEUED) return call
      items[this.head++] = undefined
    }
    this.compact()
    return undefined
  }

  /** Takes the call that {@link peek} returned. */
  take(): void {
    this.items[this.head++] = undefined
    this.size--
    this.compact()
  }

  /** Empties the queue and returns the calls that were still waiting. */
  drain(): Array<Call> {
    const items = this.items
    const head = this.head
    this.items = []
    this.head = 0
    this.size = 0
    const waiting: Array<Call> = []
    for (let i = head; i < items.length; i++) {
      const call = items[i]
      if (call !== undefined && call.state === QUEUED) waiting.push(call)
    }
    return waiting
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }
}
