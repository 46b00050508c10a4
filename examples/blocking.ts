// A blocking synchronous call on the blocking lane while a timer ticks on the main thread: the ticks keep
// coming, so the event loop never stalls. The same call made on the main thread stops the ticks.
import { Effect, Fiber, Schedule } from "effect"
import { Orchestrator } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { blockingThreads } from "./example.ts"
import { bold, line, ms, write } from "./terminal.ts"

/** A blocking call (a sync driver, `fs.readFileSync` on a slow disk, a native library): no yield until done. */
function blockFor(millis: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)
  return millis
}

interface Ticks {
  readonly count: number
  readonly longestGapMillis: number
}

/**
 * Runs `effect` while a main-thread timer ticks every `everyMillis`, printing a dot per tick, and gives the ticks
 * seen while it ran and the longest time between two of them (or between a tick and the start or the end).
 */
const withTicker = <A, E, R>(effect: Effect.Effect<A, E, R>, everyMillis: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    const stamps: Array<number> = []
    const ticker = yield* Effect.forkChild(
      Effect.sync(() => stamps.push(performance.now())).pipe(
        Effect.andThen(write(".")),
        Effect.repeat(Schedule.spaced(`${everyMillis} millis`)),
        Effect.delay(`${everyMillis} millis`)
      ),
      { startImmediately: true }
    )
    yield* write("  ticks: ")
    const value = yield* effect
    const end = performance.now()
    yield* Fiber.interrupt(ticker)
    const seen = stamps.filter((t) => t <= end)
    const points = [start, ...seen, end]
    const longestGapMillis = Math.max(...points.slice(1).map((t, i) => t - points[i]!))
    yield* line(seen.length === 0 ? "(none)" : "")
    return [value, { count: seen.length, longestGapMillis } satisfies Ticks] as const
  })

export const example: Example = {
  name: "blocking",
  summary: "blocking calls on the blocking lane while a main-thread timer keeps ticking",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const millis = small ? 250 : 1_000
      const every = 10
      yield* line(`a timer ticks every ${every} ms on the main thread; each dot below is one tick`)

      yield* line(`${blockingThreads} calls of blockFor(${millis}) on the blocking lane, at once:`)
      const [results, offloaded] = yield* withTicker(
        Effect.forEach(
          Array.from({ length: blockingThreads }, () => millis),
          (m) => orchestrator.blocking(blockFor, [m]),
          { concurrency: "unbounded" }
        ),
        every
      )
      yield* line(`  → ${offloaded.count} ticks while they ran; longest gap ${ms(offloaded.longestGapMillis)}`)

      const mainMillis = small ? 100 : 300
      yield* line(`for comparison, blockFor(${mainMillis}) called on the main thread itself:`)
      const [, inline] = yield* withTicker(Effect.sync(() => blockFor(mainMillis)), every)
      yield* line(`  → ${inline.count} ticks while it ran; longest gap ${ms(inline.longestGapMillis)}`)

      if (results.some((r) => r !== millis)) return yield* Effect.fail(new Error(`unexpected results ${results}`))
      if (offloaded.count === 0) {
        return yield* Effect.fail(new Error("the event loop stalled: no tick while the blocking lane worked"))
      }
      yield* line(bold(
        `  the event loop kept turning during the offloaded calls: ${offloaded.count} ticks,` +
          ` longest gap ${ms(offloaded.longestGapMillis)} (${ms(inline.longestGapMillis)} when the main thread blocked)`
      ))
    })
}
