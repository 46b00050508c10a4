/**
 * `npm run bench -- orchestrator`: the Orchestrator, the library's main API, against its own parts and against
 * the peers, side by side in one run; 2 workers, metrics on (a registry of its own) and the default tracer.
 *
 * - io: 50k io tasks with random priorities (4 levels) through `runAll` (scheduler permits 8) against p-queue
 *   10 (concurrency 8, the same priorities) and against a bare `Scheduler` (permits 8, `Effect.forEach`
 *   unbounded over `submit`). Every contender runs the same async function (`async (i) => i + 1`; ours wrap it
 *   in `Effect.promise`); ours also with a plain Effect task (`Effect.sync`), against the Scheduler with the
 *   same. Task creation is inside the timed window for all (p-queue's closures, our `Task.make`).
 * - offload: 20k tiny typed tasks (`x => x + 1`) through `offload` under `Effect.forEach` unbounded, against
 *   `WorkerPool.run` the same way and piscina 5 with 8 tasks per worker (`Promise.all`).
 * - cpu: 64 × fib(27) through `runAll` of `workerTask`s against `WorkerPool.run` under `Effect.forEach`
 *   unbounded.
 *
 * Every contender first runs each workload twice (JIT, and the pools learn what each task costs). Then
 * `ROUNDS` rounds, each timing every contender once per workload in a rotating order, after a short idle pause
 * (no forced collection, see `pool.bench.ts`). Values are medians over rounds; ratios are medians of the
 * per-round ratios, which cancels most of the noise of a shared machine.
 *
 * Ratios (goals from issue 13): `runAllVsPQueue` (≥ 2), `runAllVsScheduler` (≥ 0.3), `offloadVsPool` (≥ 0.8),
 * `offloadVsPiscina8` (≥ 3), `cpuRunAllVsPool` (≥ 0.95).
 */
import { Effect, Exit, Metric, Scope } from "effect"
import PQueue from "p-queue"
import { Piscina } from "piscina"
import * as Task from "../src/domain/Task.ts"
import * as Orchestrator from "../src/layers/Orchestrator.ts"
import * as Scheduler from "../src/layers/Scheduler.ts"
import * as WorkerPool from "../src/layers/WorkerPool.ts"
import { median, writeReport } from "./report.ts"
import type { Measurement } from "./report.ts"
import { Fib, Inc } from "./workers/pool-tasks.ts"

const WORKERS = 2
const IO_TASKS = 50_000
const PERMITS = 8
const TINY = 20_000
const PIPELINE = 8
const FIB_N = 27
const FIB_COUNT = 64
// 15 rather than 9: on a shared 2-core machine a single 64 × fib(27) round (about 90 ms) swung 0.6-1.8× between
// contenders, and the median of 9 such rounds moved by ±0.1 from run to run.
const ROUNDS = 15
const SETTLE_MILLIS = 30

const entry = new URL("./workers/pool-worker.ts", import.meta.url)
const piscinaEntry = new URL("./workers/pool-piscina.ts", import.meta.url).href

const levels = ["critical", "high", "normal", "low"] as const
// p-queue runs higher numbers first
const pQueuePriority = { critical: 3, high: 2, normal: 1, low: 0 } as const
const priorities = Array.from({ length: IO_TASKS }, () => levels[(Math.random() * 4) | 0]!)
const work = async (i: number) => i + 1
const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const tinyInput = range(TINY)
const fibInput = Array.from({ length: FIB_COUNT }, () => FIB_N)

const registry = new Map()
const withRegistry = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(Effect.provideService(Metric.MetricRegistry, registry))
const scope = Effect.runSync(Scope.make())
const build = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(withRegistry(Scope.provide(scope)(effect)))

const orchestrator = await build(
  Orchestrator.make({
    entry,
    pool: { minWorkers: WORKERS, maxWorkers: WORKERS },
    scheduler: { permits: PERMITS }
  })
)
const scheduler = await build(
  Effect.provideService(Scheduler.make({ permits: PERMITS }), Metric.CurrentMetricAttributes, { lane: "bare" })
)
const pool = await build(WorkerPool.make({ entry, name: "bare", minWorkers: WORKERS, maxWorkers: WORKERS }))
const piscina = new Piscina({
  filename: piscinaEntry,
  minThreads: WORKERS,
  maxThreads: WORKERS,
  concurrentTasksPerWorker: PIPELINE
})
// Both pools' workers are up before anything is timed.
await Promise.all([
  Effect.runPromise(Effect.all([orchestrator.offload(Inc, 0), pool.run(Inc, 0)], { concurrency: 2 })),
  piscina.run(0, { name: "inc" })
])

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** Each workload: its contenders, each a function that runs the workload once. */
const workloads: Record<string, Record<string, () => Promise<unknown>>> = {
  io: {
    "runAll": () =>
      run(orchestrator.runAll(priorities.map((priority, i) => Task.make(Effect.promise(() => work(i)), { priority })))),
    "scheduler": () =>
      run(Effect.forEach(priorities, (priority, i) => scheduler.submit(Effect.promise(() => work(i)), { priority }), {
        concurrency: "unbounded",
        discard: true
      })),
    "p-queue": async () => {
      const queue = new PQueue({ concurrency: PERMITS })
      for (let i = 0; i < priorities.length; i++) {
        void queue.add(() => work(i), { priority: pQueuePriority[priorities[i]!] })
      }
      await queue.onIdle()
    }
  },
  ioEffect: {
    "runAll": () =>
      run(orchestrator.runAll(priorities.map((priority, i) => Task.make(Effect.sync(() => i + 1), { priority })))),
    "scheduler": () =>
      run(Effect.forEach(priorities, (priority, i) => scheduler.submit(Effect.sync(() => i + 1), { priority }), {
        concurrency: "unbounded",
        discard: true
      }))
  },
  offload: {
    "offload": () =>
      run(Effect.forEach(tinyInput, (x) => orchestrator.offload(Inc, x), { concurrency: "unbounded", discard: true })),
    "WorkerPool.run": () =>
      run(Effect.forEach(tinyInput, (x) => pool.run(Inc, x), { concurrency: "unbounded", discard: true })),
    "piscina 8/worker": () => Promise.all(tinyInput.map((x) => piscina.run(x, { name: "inc" })))
  },
  cpu: {
    "runAll": () => run(orchestrator.runAll(fibInput.map((n) => orchestrator.workerTask(Fib, n)))),
    "WorkerPool.run": () =>
      run(Effect.forEach(fibInput, (n) => pool.run(Fib, n), { concurrency: "unbounded", discard: true }))
  }
}

const items: Record<string, number> = { io: IO_TASKS, ioEffect: IO_TASKS, offload: TINY, cpu: FIB_COUNT }

const time = async (f: () => Promise<unknown>): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MILLIS))
  const start = performance.now()
  await f()
  return performance.now() - start
}

const started = performance.now()
for (const contenders of Object.values(workloads)) {
  for (const f of Object.values(contenders)) {
    await f()
    await f()
  }
}

/** Items per second, per workload, contender and round. */
const rates: Record<string, Record<string, Array<number>>> = {}
for (let round = 0; round < ROUNDS; round++) {
  for (const [workload, contenders] of Object.entries(workloads)) {
    const names = Object.keys(contenders)
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!
      const millis = await time(contenders[name]!)
      ;((rates[workload] ??= {})[name] ??= []).push(items[workload]! / (millis / 1000))
    }
  }
  console.log(`round ${round + 1}/${ROUNDS} done after ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

const ratio = (workload: string, ours: string, theirs: string): number =>
  median(rates[workload]![ours]!.map((r, i) => r / rates[workload]![theirs]![i]!))

const results: Array<Measurement> = []
for (const [workload, contenders] of Object.entries(rates)) {
  for (const [name, values] of Object.entries(contenders)) {
    results.push({
      name: `${workload}: ${name}`,
      value: median(values),
      unit: workload === "cpu" ? "fib/s" : "tasks/s"
    })
  }
}

writeReport("orchestrator", results, {
  runAllVsPQueue: ratio("io", "runAll", "p-queue"),
  runAllVsScheduler: ratio("io", "runAll", "scheduler"),
  runAllEffectVsPQueue: median(rates.ioEffect!.runAll!.map((r, i) => r / rates.io!["p-queue"]![i]!)),
  runAllEffectVsScheduler: ratio("ioEffect", "runAll", "scheduler"),
  offloadVsPool: ratio("offload", "offload", "WorkerPool.run"),
  offloadVsPiscina8: ratio("offload", "offload", "piscina 8/worker"),
  cpuRunAllVsPool: ratio("cpu", "runAll", "WorkerPool.run")
})

await piscina.destroy()
await Effect.runPromise(Scope.close(scope, Exit.void))
