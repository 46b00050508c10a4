/**
 * Whether a hot worker spins for a moment before it sleeps on the pool's wake-up signal, decided from what it
 * measures rather than fixed, because the right answer depends on where the scheduler put the two threads.
 *
 * Measured on a 2-core VM (sequential round trips of a tiny call, threads pinned with `taskset`):
 *
 * | pool thread and worker | sleep at once | spin 30 µs first | this strategy | piscina |
 * |---|---|---|---|---|
 * | on the same core | 10.2 µs | 15.4 µs | 8.2-10.7 µs | 10.1-10.9 µs |
 * | on different cores | 46.6 µs | 19.6 µs | 7.6-9.1 µs | 44-50 µs |
 * | unpinned | 44 or 10 µs | 16 µs | 13-19 µs | 10-46 µs |
 *
 * On one core a wake-up is a context switch, and a spinning worker only delays the pool's thread. On two, each
 * wake-up of a sleeping core costs about 20 µs on a virtual machine, and a spin saves the worker's half of
 * them. Which placement a process gets varies from run to run and can change while it runs. So a worker
 * sleeps at once while the time from its answer to the next call (its turnaround) stays short; when it is long
 * (two slow wake-ups), it tries spinning; it stops when its spins rarely catch the next call (the caller is
 * slow, not the wake-up, and spinning would only burn a core), and then waits twice as many calls as last
 * time before it tries again; and every `probeEvery` waits of spinning that pays it sleeps again for a few
 * calls to see whether the placement has changed.
 *
 * It never spins while the machine has no core to spare (`IdleCores`): then the threads that can run
 * outnumber the cores, and a spinning worker takes the core the pool's thread (its event loop) or another
 * process needs, for a wake-up that a context switch would pay anyway.
 *
 * @internal
 */
import { IdleCores } from "../host/IdleCores.ts"

/** How long a spinning worker polls the signal before it sleeps (ms). */
export const spinMillis = 0.03
/** A turnaround above this (ms) while sleeping at once means slow wake-ups: spin. */
export const slowTurnaroundMillis = 0.025
/** Samples before a decision. */
const minSamples = 8
/** Below this share of spins that catch the next call, spinning does not pay. */
const minHitRate = 0.5
/** Waits between two probes of sleeping at once. */
export const probeEvery = 128
/** Longer gaps (ms) are the caller's own time, which says nothing about wake-ups. */
const maxTurnaroundMillis = 1
/** The most samples of sleeping at once between two tries of spinning that did not pay. */
export const maxRetryAfter = 1024

export class WaitStrategy {
  /** Whether spinning pays, as measured: the next wait spins first if a core is also to spare (`spinNow`). */
  spinning = false
  private readonly idleCores: { readonly available: () => boolean }
  private turnaround = 0
  private hitRate = 1
  private samples = 0
  /** Samples of sleeping at once before the next try of spinning. */
  private retryAfter = minSamples

  constructor(idleCores: { readonly available: () => boolean } = new IdleCores()) {
    this.idleCores = idleCores
  }

  /** Whether the next wait spins first: spinning pays, and the machine has a core to spare. */
  spinNow(): boolean {
    return this.spinning && this.idleCores.available()
  }

  /**
   * Records one wait that followed an answer and ended with the next call: `gapMillis` from the start of the
   * wait to the call, whether the worker `spun` first, and whether the call came during the spin (`hit`).
   */
  record(gapMillis: number, spun: boolean, hit: boolean): void {
    if (!spun) {
      if (gapMillis > maxTurnaroundMillis) return
      this.turnaround = this.samples === 0 ? gapMillis : 0.8 * this.turnaround + 0.2 * gapMillis
      if (++this.samples >= this.retryAfter && this.turnaround > slowTurnaroundMillis) this.switchTo(true)
      return
    }
    this.hitRate = 0.8 * this.hitRate + 0.2 * (hit ? 1 : 0)
    this.samples++
    if (this.samples >= minSamples && this.hitRate < minHitRate) {
      this.retryAfter = Math.min(this.retryAfter * 2, maxRetryAfter)
      this.switchTo(false)
    } else if (this.samples >= probeEvery) {
      this.retryAfter = minSamples
      this.switchTo(false)
    }
  }

  private switchTo(spinning: boolean): void {
    this.spinning = spinning
    this.samples = 0
    this.hitRate = 1
  }
}
