// When a hot worker spins before it sleeps: the decisions of `WaitStrategy` from the turnarounds it is fed.
import { assert, describe, it } from "@effect/vitest"
import { maxRetryAfter, probeEvery, slowTurnaroundMillis, WaitStrategy } from "../../src/runtime/worker/WaitStrategy.ts"

const fast = slowTurnaroundMillis / 3
const slow = slowTurnaroundMillis * 2

/** Feeds `n` waits of the same kind, each recorded as the strategy's current mode would see it. */
const feed = (strategy: WaitStrategy, n: number, gapMillis: number, hit: boolean): void => {
  for (let i = 0; i < n; i++) strategy.record(gapMillis, strategy.spinning, strategy.spinning && hit)
}

describe("WaitStrategy", () => {
  it("never spins while the machine has no core to spare, even where spinning pays", () => {
    let spare = true
    const strategy = new WaitStrategy({ available: () => spare })
    feed(strategy, 8, slow, false)
    assert.isTrue(strategy.spinning)
    assert.isTrue(strategy.spinNow())
    spare = false
    assert.isFalse(strategy.spinNow())
  })

  it("sleeps at once while turnarounds are short (both threads on one core)", () => {
    const strategy = new WaitStrategy()
    feed(strategy, 1000, fast, false)
    assert.isFalse(strategy.spinning)
  })

  it("spins once turnarounds are slow, and keeps spinning while its spins catch the next call", () => {
    const strategy = new WaitStrategy()
    feed(strategy, 7, slow, false)
    assert.isFalse(strategy.spinning, "no decision before eight samples")
    feed(strategy, 1, slow, false)
    assert.isTrue(strategy.spinning)
    feed(strategy, probeEvery - 1, fast, true)
    assert.isTrue(strategy.spinning)
  })

  it("goes back to sleeping every probeEvery waits to check the placement, and stays there if it changed", () => {
    const strategy = new WaitStrategy()
    feed(strategy, 8, slow, false)
    feed(strategy, probeEvery, fast, true)
    assert.isFalse(strategy.spinning, "probing")
    feed(strategy, 8, slow, false)
    assert.isTrue(strategy.spinning, "still slow: spins again after eight samples")
    feed(strategy, probeEvery, fast, true)
    feed(strategy, 100, fast, false)
    assert.isFalse(strategy.spinning, "now fast: keeps sleeping")
  })

  it("stops spinning when its spins miss (a slow caller, not a slow wake-up) and waits longer before each new try", () => {
    const strategy = new WaitStrategy()
    const triesIn = (samples: number): number => {
      let tries = 0
      for (let i = 0; i < samples; i++) {
        const spun = strategy.spinning
        strategy.record(slow, spun, false)
        if (!spun && strategy.spinning) tries++
      }
      return tries
    }
    // Tries after 8, then 16, 32, ... samples of sleeping, each try lasting about 8 missed spins.
    assert.strictEqual(triesIn(8 + 8 + 16 + 8 + 32 + 8), 3)
    assert.isFalse(strategy.spinning)
    // The wait between tries is capped: a long run still tries now and then, rarely.
    const tries = triesIn(20 * maxRetryAfter)
    assert.isAtLeast(tries, 15)
    assert.isAtMost(tries, 25)
  })

  it("ignores gaps longer than a millisecond: the caller's own time says nothing about wake-ups", () => {
    const strategy = new WaitStrategy()
    feed(strategy, 100, 5, false)
    assert.isFalse(strategy.spinning)
  })
})
