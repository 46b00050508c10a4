/**
 * Where the soak's memory goes (docs/benchmarks.md, faults): `node --expose-gc bench/soak-heaps.ts ours|piscina`
 * runs `CALLS` (default 1,000,000) tiny calls at `IN_FLIGHT` (default 256), then prints one JSON line per probe
 * (start, end): RSS and the main thread's heap by space, and every worker's own heap, each after a full GC in
 * that thread. `YOUNG=<MB>` sets our workers' `resourceLimits.maxYoungGenerationSizeMb`. Not a suite: the bench
 * runner does not run it.
 */
import { Effect } from "effect"
import { Piscina } from "piscina"
import * as WorkerPool from "../src/layers/WorkerPool.ts"
import { HeapProbe, Work } from "./workers/soak-heaps-tasks.ts"
import { heap } from "./workers/soak-heaps.ts"
import type { Heap } from "./workers/soak-heaps.ts"

const contender = process.argv[2]
const CALLS = Number(process.env.CALLS ?? 1_000_000)
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 256)
const YOUNG = process.env.YOUNG === undefined ? undefined : Number(process.env.YOUNG)
const started = performance.now()

const report = (label: string, probes: ReadonlyArray<unknown>): void => {
  const workers = [...new Map((probes as ReadonlyArray<Heap>).map((w) => [w.threadId, w])).values()]
  const main = heap()
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20)
  const heapsMb = Math.round(main.totalMb + workers.reduce((sum, w) => sum + w.totalMb, 0))
  console.log(JSON.stringify({
    contender,
    label,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    rssMb,
    outsideHeapsMb: rssMb - heapsMb,
    main,
    workers
  }))
}

if (contender === "ours") {
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({
      entry: new URL("./workers/soak-heaps-worker.ts", import.meta.url),
      ...(YOUNG === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: YOUNG } })
    })
    const probe = Effect.forEach([1, 2, 3, 4, 5, 6], () => pool.run(HeapProbe, 30), { concurrency: 6 })
    report("start", yield* probe)
    let next = 0
    const lane = Effect.whileLoop({
      while: () => next < CALLS,
      body: () => pool.run(Work, next++),
      step: () => {}
    })
    yield* Effect.all(Array.from({ length: IN_FLIGHT }, () => lane), { concurrency: "unbounded", discard: true })
    report("end", yield* probe)
  })))
} else if (contender === "piscina") {
  const pool = new Piscina({ filename: new URL("./workers/soak-heaps-piscina.ts", import.meta.url).href })
  const probe = () => Promise.all([1, 2, 3, 4, 5, 6].map(() => pool.run(30, { name: "heap" })))
  report("start", await probe())
  let next = 0
  const lane = async () => {
    while (next < CALLS) await pool.run(next++, { name: "work" })
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  report("end", await probe())
  await pool.destroy()
} else {
  console.error("usage: node --expose-gc bench/soak-heaps.ts ours|piscina")
  process.exit(2)
}
process.exit(0)
