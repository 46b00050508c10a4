/**
 * `npm run bench -- scheduler`: the Scheduler side by side with p-queue 10, with the same priorities.
 *
 * 1. Throughput: 100k tiny tasks with random priorities (4 levels) at concurrency 8, all submitted at once.
 *    The task is the same async function for both (`async (i) => i + 1`); ours also with a plain Effect task.
 * 2. Cost per admit with N tasks queued (10k, 100k, 1M): the 8 permits are held while N tasks with random
 *    priorities are queued, then released; the drain time divided by N is the cost of one admission (pick the
 *    next task, hand it the permit, run the tiny task, release). Also the cost of one submission while filling
 *    and the memory held per queued task. p-queue's sorted insert is O(n), so filling 1M prioritised tasks does
 *    not finish in minutes: its depth runs stop at 100k.
 *
 * Ratios: `vsPQueue` = our tasks/s ÷ p-queue's with the same async task (goal ≥ 1); `flatness` = our cost per
 * admit at 1M queued ÷ at 10k (goal ≤ 1.5).
 */
import { Effect, Fiber, Latch, Metric } from "effect"
import PQueue from "p-queue"
import { make } from "../src/layers/Scheduler.ts"
import { median, writeReport } from "./report.ts"
import type { Measurement } from "./report.ts"

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const levels = ["critical", "high", "normal", "low"] as const
// p-queue runs higher numbers first
const pQueuePriority = { critical: 3, high: 2, normal: 1, low: 0 } as const

const randomPriorities = (n: number) => Array.from({ length: n }, () => levels[(Math.random() * 4) | 0]!)
const work = async (i: number) => i + 1

const runEffect = <A>(effect: Effect.Effect<A, unknown, never>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

// ---------------------------------------------------------------------------------------------------------------
// 1. throughput

const THROUGHPUT_TASKS = 100_000
const CONCURRENCY = 8

const pQueueThroughput = async (priorities: ReadonlyArray<(typeof levels)[number]>): Promise<number> => {
  const queue = new PQueue({ concurrency: CONCURRENCY })
  const start = performance.now()
  for (let i = 0; i < priorities.length; i++) {
    void queue.add(() => work(i), { priority: pQueuePriority[priorities[i]!] })
  }
  await queue.onIdle()
  return priorities.length / ((performance.now() - start) / 1000)
}

const oursThroughput = (
  priorities: ReadonlyArray<(typeof levels)[number]>,
  task: (i: number) => Effect.Effect<number>
): Promise<number> =>
  runEffect(Effect.scoped(Effect.gen(function*() {
    const scheduler = yield* make({ permits: CONCURRENCY })
    const start = performance.now()
    yield* Effect.forEach(
      priorities,
      (priority, i) => scheduler.submit(task(i), { priority }),
      { concurrency: "unbounded", discard: true }
    )
    const tasksPerSecond = priorities.length / ((performance.now() - start) / 1000)
    const stats = yield* scheduler.stats
    if (stats.admitted !== priorities.length) throw new Error(`admitted ${stats.admitted}`)
    return tasksPerSecond
  })))

// ---------------------------------------------------------------------------------------------------------------
// 2. depth

interface DepthRun {
  /** µs per admission while draining */
  readonly admit: number
  /** µs per submission while filling */
  readonly fill: number
  /** bytes of heap per queued task */
  readonly bytes: number
}

const oursDepth = (n: number): Promise<DepthRun> =>
  runEffect(Effect.scoped(Effect.gen(function*() {
    const scheduler = yield* make({ permits: CONCURRENCY })
    const gate = yield* Latch.make(false)
    const blockers = yield* Effect.forkChild(
      Effect.forEach(Array.from({ length: CONCURRENCY }), () => scheduler.submit(gate.await), {
        concurrency: "unbounded",
        discard: true
      }),
      { startImmediately: true }
    )
    const priorities = randomPriorities(n)
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const fillStart = performance.now()
    const all = yield* Effect.forkChild(
      Effect.forEach(priorities, (priority) => scheduler.submit(Effect.void, { priority }), {
        concurrency: "unbounded",
        discard: true
      })
    )
    while ((yield* scheduler.stats).queuedTotal < n) yield* Effect.yieldNow
    const fill = (performance.now() - fillStart) * 1000 / n
    gc()
    const bytes = (process.memoryUsage().heapUsed - heapBefore) / n
    const start = performance.now()
    yield* gate.open
    yield* Fiber.join(all)
    const admit = (performance.now() - start) * 1000 / n
    yield* Fiber.join(blockers)
    return { admit, fill, bytes }
  })))

/** The same fibers parked on a latch with no scheduler: what a waiting fiber costs by itself. */
const bareFiberBytes = (n: number): Promise<number> =>
  runEffect(Effect.scoped(Effect.gen(function*() {
    const gate = yield* Latch.make(false)
    let parked = 0
    const park = Effect.andThen(Effect.sync(() => parked++), gate.await)
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const all = yield* Effect.forkChild(
      Effect.forEach(Array.from({ length: n }), () => park, { concurrency: "unbounded", discard: true })
    )
    while (parked < n) yield* Effect.yieldNow
    gc()
    const bytes = (process.memoryUsage().heapUsed - heapBefore) / n
    yield* gate.open
    yield* Fiber.join(all)
    return bytes
  })))

const pQueueDepth = async (n: number): Promise<DepthRun> => {
  const queue = new PQueue({ concurrency: CONCURRENCY, autoStart: false })
  const priorities = randomPriorities(n)
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const fillStart = performance.now()
  for (let i = 0; i < n; i++) void queue.add(() => undefined, { priority: pQueuePriority[priorities[i]!] })
  const fill = (performance.now() - fillStart) * 1000 / n
  gc()
  const bytes = (process.memoryUsage().heapUsed - heapBefore) / n
  const start = performance.now()
  queue.start()
  await queue.onIdle()
  const admit = (performance.now() - start) * 1000 / n
  return { admit, fill, bytes }
}

// ---------------------------------------------------------------------------------------------------------------

const repeat = async <A>(times: number, f: () => Promise<A>): Promise<Array<A>> => {
  const out: Array<A> = []
  for (let i = 0; i < times; i++) {
    gc()
    out.push(await f())
  }
  return out
}

const log = (line: string) => console.log(`  … ${line}`)

const main = async () => {
  const results: Array<Measurement> = []

  // warm-up, so both sides run optimised code
  await pQueueThroughput(randomPriorities(20_000))
  await oursThroughput(randomPriorities(20_000), (i) => Effect.promise(() => work(i)))
  await oursThroughput(randomPriorities(20_000), (i) => Effect.sync(() => i + 1))
  await oursDepth(10_000)
  await pQueueDepth(10_000)

  const priorities = randomPriorities(THROUGHPUT_TASKS)
  const pq: Array<number> = []
  const oursAsync: Array<number> = []
  const oursSync: Array<number> = []
  for (let run = 0; run < 5; run++) {
    // interleaved, so drift on a shared machine hits both sides alike
    gc()
    pq.push(await pQueueThroughput(priorities))
    gc()
    oursAsync.push(await oursThroughput(priorities, (i) => Effect.promise(() => work(i))))
    gc()
    oursSync.push(await oursThroughput(priorities, (i) => Effect.sync(() => i + 1)))
    log(
      `throughput run ${run + 1}: p-queue ${pq.at(-1)!.toFixed(0)}, ours ${
        oursAsync.at(-1)!.toFixed(0)
      } (async task), ${oursSync.at(-1)!.toFixed(0)} (Effect task)`
    )
  }
  const pqThroughput = median(pq)
  const oursThroughputAsync = median(oursAsync)
  results.push(
    { name: "p-queue: 100k tasks, 4 priorities, concurrency 8", value: pqThroughput, unit: "tasks/s" },
    { name: "ours: same, same async task", value: oursThroughputAsync, unit: "tasks/s" },
    {
      name: "ours: same, Effect.sync task (each ends before the next submit)",
      value: median(oursSync),
      unit: "tasks/s"
    }
  )

  const depths = [10_000, 100_000, 1_000_000] as const
  const oursAdmit = new Map<number, number>()
  for (const n of depths) {
    const runs = await repeat(n === 1_000_000 ? 3 : 5, () => oursDepth(n))
    const admit = median(runs.map((r) => r.admit))
    oursAdmit.set(n, admit)
    const label = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`
    results.push(
      { name: `ours: cost per admit, ${label} queued`, value: admit, unit: "µs" },
      { name: `ours: cost per submit while filling to ${label}`, value: median(runs.map((r) => r.fill)), unit: "µs" },
      {
        name: `ours: heap per queued task at ${label} (fiber included)`,
        value: median(runs.map((r) => r.bytes)),
        unit: "bytes"
      }
    )
    log(`ours at ${label}: ${runs.map((r) => r.admit.toFixed(3)).join(", ")} µs/admit`)
  }
  const bare = median(await repeat(3, () => bareFiberBytes(1_000_000)))
  results.push({ name: "bare parked fiber, no scheduler, at 1M", value: bare, unit: "bytes" })
  for (const n of [10_000, 100_000] as const) {
    const runs = await repeat(3, () => pQueueDepth(n))
    const label = `${n / 1000}k`
    results.push(
      { name: `p-queue: cost per admit, ${label} queued`, value: median(runs.map((r) => r.admit)), unit: "µs" },
      { name: `p-queue: cost per add while filling to ${label}`, value: median(runs.map((r) => r.fill)), unit: "µs" }
    )
    log(`p-queue at ${label}: ${runs.map((r) => r.admit.toFixed(3)).join(", ")} µs/admit`)
  }
  log("p-queue at 1M queued: not run (sorted insert is O(n); filling 1M prioritised tasks does not finish in minutes)")

  writeReport("scheduler", results, {
    vsPQueue: oursThroughputAsync / pqThroughput,
    flatness: oursAdmit.get(1_000_000)! / oursAdmit.get(10_000)!
  })
}

await main()
