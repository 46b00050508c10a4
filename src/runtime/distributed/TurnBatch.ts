/**
 * Starts work handed over during one turn of the event loop together, at the end of that turn (`setImmediate`).
 *
 * Why the consumer needs it: BullMQ hands a consumer its jobs one promise chain at a time (each finished job's
 * reply from Redis carries the next one), and when the process is busy a single read from Redis resolves about
 * ten of those chains at once. Started as they arrive, each job's worker call leaves in its own message, since
 * the worker pool posts its outbox at the end of the microtask that queued it, and the next job's chain is still
 * a few promise steps behind: one `postMessage` and one wake-up of the worker thread per job (waking a thread
 * costs the waker about 14 µs on a 2-core VM). Started together, they fill the outbox in one synchronous pass:
 * one message and one wake-up for all of them, and one answer back. The wait is short: the check phase follows
 * the I/O callbacks of the same turn.
 *
 * @internal
 */
export class TurnBatch {
  private pending: Array<Entry> = []

  private readonly run = (): void => {
    const entries = this.pending
    this.pending = []
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      try {
        entry.start()
      } catch (error) {
        entry.fail(error)
      }
    }
  }

  /** How many entries wait for the end of this turn. */
  get size(): number {
    return this.pending.length
  }

  /**
   * Runs `start` at the end of this turn, in the order added, with the others added in this turn; `fail` gets
   * what `start` throws (the others still start).
   */
  add(start: () => void, fail: (error: unknown) => void): void {
    if (this.pending.push({ start, fail }) === 1) setImmediate(this.run)
  }
}

interface Entry {
  readonly start: () => void
  readonly fail: (error: unknown) => void
}
