/**
 * `npm run bench -- batch`: 1,000,000 trivial items (`x => x * 2 + 1`) through the orchestrator's batch API on
 * the worker pool (items travel in chunks), beside the same work done one task per item through the same pool.
 *
 * One task per item would take minutes for a million items, so it runs on 50,000 items and its rate is
 * compared with the batch rate (items per second either way). Each side runs 3 times, interleaved; the median
 * is reported. Both sides use a pool with one worker per core (at least 2) and the same orchestrator.
 */
import { Effect } from "effect"
import * as os from "node:os"
import * as Orchestrator from "../src/layers/Orchestrator.ts"
import { median, writeReport } from "./report.ts"

const ITEMS = 1_000_000
const PER_ITEM_ITEMS = 50_000
const REPEATS = 3
const size = Math.max(2, os.availableParallelism())

const double = (x: number): number => x * 2 + 1
const input = Array.from({ length: ITEMS }, (_, i) => i)
const smallInput = input.slice(0, PER_ITEM_ITEMS)
const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    gc()
    const start = performance.now()
    const value = yield* effect
    return { value, millis: performance.now() - start }
  })

const program = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator.Orchestrator
  // Warm up: boot every worker and compile both paths.
  yield* orchestrator.batchOffload(double, input.slice(0, 20_000), { batchSize: 5_000 })
  yield* orchestrator.runAll(smallInput.slice(0, 2_000).map((x) => orchestrator.functionTask(double, [x])))

  const batchRates: Array<number> = []
  const perItemRates: Array<number> = []
  for (let i = 0; i < REPEATS; i++) {
    const batch = yield* timed(orchestrator.batchOffload(double, input, { batchSize: 10_000 }))
    if (batch.value.length !== ITEMS || batch.value[ITEMS - 1] !== double(ITEMS - 1)) {
      return yield* Effect.die(new Error("batch produced a wrong result"))
    }
    batchRates.push(ITEMS / (batch.millis / 1000))
    const perItem = yield* timed(
      orchestrator.runAll(smallInput.map((x) => orchestrator.functionTask(double, [x])), { concurrency: 4_096 })
    )
    if (perItem.value.length !== PER_ITEM_ITEMS) return yield* Effect.die(new Error("per-item run lost results"))
    perItemRates.push(PER_ITEM_ITEMS / (perItem.millis / 1000))
    console.log(
      `  run ${i + 1}: batch ${Math.round(batchRates[i]!)} items/s, one task per item ${
        Math.round(perItemRates[i]!)
      } items/s`
    )
  }
  const itemsPerSecond = median(batchRates)
  const perItem = median(perItemRates)
  writeReport("batch", [
    { name: `batchOffload, ${ITEMS} items, chunks of 10,000`, value: itemsPerSecond, unit: "items/s" },
    { name: `one task per item, ${PER_ITEM_ITEMS} items`, value: perItem, unit: "items/s" },
    { name: "workers", value: size, unit: "threads" }
  ], {
    itemsPerSecond,
    vsOneTaskPerItem: itemsPerSecond / perItem
  })
})

await Effect.runPromise(
  program.pipe(
    Effect.provide(Orchestrator.layer({ pool: { minWorkers: size, maxWorkers: size } })),
    Effect.scoped
  )
)
