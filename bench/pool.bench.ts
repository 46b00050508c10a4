/**
 * `npm run bench -- pool`: the worker pool against piscina (default, and 8 tasks per worker) and raw
 * `worker_threads` (pipelined with 64 messages in flight per worker, and one in flight), side by side in one
 * run, every pool with as many workers as the machine has cores (at least 2).
 *
 * - tiny: 100k `x => x + 1` calls submitted at once (ours: `Effect.forEach` over a typed task with a window of
 *   1,024 calls and, like the pipelined raw baseline, 64 calls in flight per worker; piscina: `Promise.all`),
 *   calls/s.
 * - latency: sequential round trips, 300 per round over 21 rounds (6,300 in all, at least the 5,000 asked
 *   for), median µs per call (ours measured inside one Effect program).
 * - fib: 32 × fib(30), speedup over running them one after another on the main thread.
 * - fib, busy event loop: the same while the main thread also runs work of its own in 2 ms slices between
 *   event-loop turns, as a busy server would: a worker that has to wait for this thread between calls idles.
 * - transfer: 200 × 1 MiB `Float64Array` sums, buffers moved with transfer lists, calls/s. Ours frees each array in
 *   the worker once its call has answered (`releasePayload`); also measured without it (`transferNoReleaseVsRaw`),
 *   where the worker's garbage collector frees them: V8 runs a full collection for about every 64 MB of buffers a
 *   thread receives, and a worker with `effect` loaded has a heap about four times a bare thread's.
 * - startup: what a user's program meets, in a fresh process per sample (`workers/startup-probe.ts`, 9 each,
 *   taking turns): pool construction to first result, ms, with a typed task (the worker loads `effect` and the
 *   task schemas) and with `offload` (the built-in entry loads no `effect`, like piscina's plain-function
 *   workers); `startupVsPiscina` uses the typed one. Also the program's whole time from process start to that
 *   result, and a user's first run (`startupColdVsPiscina`: a fresh temporary folder, so our workers' compile
 *   cache starts empty; piscina's workers use none), 3 each. Measured before anything else runs.
 *
 * Every contender first runs each workload once (warm-up: JIT, and our pool learns what each task costs).
 * Then 15 rounds, each timing every contender once per workload (starting with a different contender each
 * round), so that bursts of noise from other processes hit them alike. Values are the medians over rounds;
 * ratios are the medians of the per-round ratios (ours and theirs measured in the same round), which cancels
 * most of the noise of a shared machine. A transfer round lasts under 25 ms, so one stalled thread moves its
 * ratio by a third: with 7 rounds the transfer and fib ratios swung by ±0.1 from one run to the next. No
 * window starts with a forced garbage collection; each starts after a short idle pause instead (see
 * `time`), and the report gives the main thread's GC time inside each contender's windows.
 */
import { Effect, Exit, Scope } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { PerformanceObserver } from "node:perf_hooks"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import * as WorkerPool from "../src/layers/WorkerPool.ts"
import { median, writeReport } from "./report.ts"
import type { Measurement } from "./report.ts"
import { Fib, fib, Inc, Sum, SumGc } from "./workers/pool-tasks.ts"

const size = Math.max(2, os.availableParallelism())
const ourEntry = new URL("./workers/pool-worker.ts", import.meta.url)
const piscinaEntry = new URL("./workers/pool-piscina.ts", import.meta.url).href
const rawEntry = new URL("./workers/pool-raw.ts", import.meta.url)

const TINY = 100_000
/** Round trips per latency round; 21 rounds make 6,300 per contender. */
const ROUND_TRIPS = 300
/** Wake-up latency on a shared VM is bimodal (it depends on where the OS puts the threads): many short rounds. */
const LATENCY_ROUNDS = 21
const FIB_N = 30
const FIB_COUNT = 32
const ARRAYS = 200
const ARRAY_LENGTH = (1024 * 1024) / 8
const REPEATS = 15
/** Calls in flight per worker of the pipelined raw baseline, and of ours. */
const RAW_IN_FLIGHT = 64
const STARTUPS = 9
const COLD_STARTUPS = 3

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const freshArrays = (): Array<Float64Array<ArrayBuffer>> =>
  range(ARRAYS).map(() => new Float64Array(ARRAY_LENGTH).fill(1))

/** What the driver needs from a contender: each measure as a promise. */
interface Contender {
  readonly name: string
  readonly tiny: () => Promise<void>
  /** Runs the sequential round trips; resolves with each call's duration in ms. */
  readonly roundTrips: () => Promise<Array<number>>
  readonly fibs: () => Promise<void>
  readonly sums: (data: Array<Float64Array<ArrayBuffer>>) => Promise<void>
  readonly close: () => Promise<void>
}

// ------------------------------------------------------------------------------------------------------------
// effect-orchestrator

// As many calls in flight per worker as the pipelined raw baseline (the defaults are 16, and 64 for tasks that
// never suspend); the pool still keeps CPU-bound calls one per worker (fib) and pipelines the sums only within
// its few milliseconds of budget.
const ourOptions: WorkerPool.Options = {
  entry: ourEntry,
  minWorkers: size,
  maxWorkers: size,
  concurrentTasksPerWorker: RAW_IN_FLIGHT,
  pipelineDepth: RAW_IN_FLIGHT
}

const ours = async (): Promise<Contender> => {
  const scope = Effect.runSync(Scope.make())
  const pool = await Effect.runPromise(WorkerPool.make(ourOptions).pipe(Scope.provide(scope)))
  return {
    name: "ours",
    tiny: () =>
      Effect.runPromise(Effect.forEach(range(TINY), (x) => pool.run(Inc, x), { concurrency: 1024, discard: true })),
    roundTrips: () =>
      Effect.runPromise(Effect.gen(function*() {
        const times: Array<number> = []
        for (let i = 0; i < ROUND_TRIPS; i++) {
          const start = performance.now()
          yield* pool.run(Inc, i)
          times.push(performance.now() - start)
        }
        return times
      })),
    fibs: () =>
      Effect.runPromise(
        Effect.forEach(range(FIB_COUNT), () => pool.run(Fib, FIB_N), { concurrency: "unbounded", discard: true })
      ),
    sums: (data) =>
      Effect.runPromise(Effect.forEach(data, (xs) => pool.run(Sum, xs), { concurrency: "unbounded", discard: true })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** A pool of its own for the transfer sums without `releasePayload` (the worker's garbage collector frees them). */
const oursWithoutRelease = async (): Promise<Pick<Contender, "sums" | "close">> => {
  const scope = Effect.runSync(Scope.make())
  const pool = await Effect.runPromise(WorkerPool.make(ourOptions).pipe(Scope.provide(scope)))
  return {
    sums: (data) =>
      Effect.runPromise(Effect.forEach(data, (xs) => pool.run(SumGc, xs), { concurrency: "unbounded", discard: true })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

// ------------------------------------------------------------------------------------------------------------
// piscina

const piscinaOptions = (perWorker: number) => ({
  filename: piscinaEntry,
  minThreads: size,
  maxThreads: size,
  concurrentTasksPerWorker: perWorker
})

const piscina = async (perWorker: number): Promise<Contender> => {
  const pool = new Piscina(piscinaOptions(perWorker))
  await pool.run(0, { name: "inc" })
  return {
    name: perWorker === 1 ? "piscina" : `piscina ${perWorker}/worker`,
    tiny: async () => {
      await Promise.all(range(TINY).map((x) => pool.run(x, { name: "inc" })))
    },
    roundTrips: async () => {
      const times: Array<number> = []
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const start = performance.now()
        await pool.run(i, { name: "inc" })
        times.push(performance.now() - start)
      }
      return times
    },
    fibs: async () => {
      await Promise.all(range(FIB_COUNT).map(() => pool.run(FIB_N, { name: "fib" })))
    },
    sums: async (data) => {
      await Promise.all(data.map((xs) => pool.run(xs, { name: "sum", transferList: [xs.buffer] })))
    },
    close: () => pool.destroy()
  }
}

// ------------------------------------------------------------------------------------------------------------
// raw worker_threads: a Map of pending calls keyed by id, one message per call

interface RawPool {
  readonly call: (worker: number, op: number, x: unknown, transfer?: Array<ArrayBuffer>) => Promise<unknown>
  readonly close: () => Promise<void>
}

const rawPool = async (): Promise<RawPool> => {
  const pending = new Map<number, (value: unknown) => void>()
  let nextId = 1
  const threads = range(size).map(() => new Worker(rawEntry))
  await Promise.all(threads.map((thread) =>
    new Promise<void>((resolve) => {
      thread.once("message", () => {
        thread.on("message", ([id, result]: [number, unknown]) => {
          const resolveCall = pending.get(id)!
          pending.delete(id)
          resolveCall(result)
        })
        resolve()
      })
    })
  ))
  return {
    call: (worker, op, x, transfer) =>
      new Promise((resolve) => {
        const id = nextId++
        pending.set(id, resolve)
        threads[worker]!.postMessage([id, op, x], transfer)
      }),
    close: async () => {
      await Promise.all(threads.map((thread) => thread.terminate()))
    }
  }
}

/** Runs `count` calls, `lanes` in flight per worker, each lane sending its next call when the last returns. */
const lanes = async (
  count: number,
  perWorker: number,
  send: (worker: number, index: number) => Promise<unknown>
): Promise<void> => {
  let next = 0
  const lane = async (worker: number): Promise<void> => {
    while (next < count) await send(worker, next++)
  }
  await Promise.all(range(size * perWorker).map((i) => lane(i % size)))
}

const raw = async (perWorker: number): Promise<Contender> => {
  const pool = await rawPool()
  return {
    name: perWorker === 1 ? "raw, 1 in flight" : `raw, ${perWorker} in flight`,
    tiny: () => lanes(TINY, perWorker, (worker, x) => pool.call(worker, 0, x)),
    roundTrips: async () => {
      const times: Array<number> = []
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const start = performance.now()
        await pool.call(0, 0, i)
        times.push(performance.now() - start)
      }
      return times
    },
    fibs: () => lanes(FIB_COUNT, 1, (worker) => pool.call(worker, 1, FIB_N)),
    sums: (data) => lanes(data.length, perWorker, (worker, i) => pool.call(worker, 2, data[i], [data[i]!.buffer])),
    close: pool.close
  }
}

// ------------------------------------------------------------------------------------------------------------
// Start-up, in fresh processes

const probeEntry = new URL("./workers/startup-probe.ts", import.meta.url)
const startupContenders = ["ours", "oursOffload", "piscina", "raw"] as const
type StartupContender = typeof startupContenders[number]

interface Startup {
  /** Pool construction to first result (ms). */
  readonly firstResult: number
  /** Process start to first result (ms): Node's start, the imports, then the above. */
  readonly total: number
  readonly imports: number
}

/** One fresh program of `contender`; `tmpdir` set: a folder of its own (an empty compile cache for ours). */
const startupOnce = (contender: StartupContender, tmpdir?: string): Startup => {
  const run = spawnSync(process.execPath, [probeEntry.pathname, contender, String(size)], {
    encoding: "utf8",
    timeout: 60_000,
    env: tmpdir === undefined ? process.env : { ...process.env, TMPDIR: tmpdir }
  })
  if (run.status !== 0) throw new Error(`start-up probe ${contender} failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Startup
}

/** A first run's start-up: every sample in a fresh temporary folder, removed afterwards. */
const coldStartupOnce = (contender: StartupContender): Startup => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/eo-cold-start-`)
  try {
    return startupOnce(contender, dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------------------------------------------------
// Driver: the machine is shared and noisy, so contenders take turns in short rounds, each round timing every
// contender once, and the median over the rounds is reported.

/** The main thread's GC pauses (start, duration in ms), to tell how much of a window each contender's GCs took. */
const gcPauses: Array<readonly [number, number]> = []
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push([entry.startTime, entry.duration])
})
gcObserver.observe({ entryTypes: ["gc"] })
/** Timed windows by workload and contender, one per round: start and end (ms). */
const windows: Record<string, Record<string, Array<readonly [number, number]>>> = {}

/** How long the main thread idles before each window (ms): see `time`. */
const SETTLE_MILLIS = 30

/**
 * Times one window, after `SETTLE_MILLIS` of idle time in which V8 finishes the collection that the previous
 * window or the fresh arrays started (200 MiB of new buffers start an incremental collection, which otherwise
 * finished inside the window: 4-7 ms of a 20-30 ms transfer window, whoever's it was). No forced `gc()`: a
 * forced collection clears the maps that the main thread's optimised code embeds weakly, so the contender that
 * runs the most JavaScript there (ours: the `effect` fiber runtime) recompiled its hot functions in every
 * window (measured: 13-42 ms of background compiling in a 20 ms transfer window on 2 cores; none after
 * warm-up without forced collections). The report gives the main thread's GC time inside each contender's
 * windows.
 */
const time = async (workload: string, contender: string, run: () => Promise<unknown>): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MILLIS))
  const start = performance.now()
  await run()
  const end = performance.now()
  ;((windows[workload] ??= {})[contender] ??= []).push([start, end])
  return end - start
}

/** Median over rounds of the main thread's GC time (ms) inside the windows of `contender` for `workload`. */
const gcInWindows = (workload: string, contender: string): number =>
  median(windows[workload]![contender]!.map(([start, end]) => {
    let total = 0
    for (const [at, duration] of gcPauses) if (at >= start && at < end) total += duration
    return total
  }))

/** Length of each slice of the main thread's own work in the busy-loop fib phase (ms). */
const BUSY_SLICE_MILLIS = 2

/** Runs `run` while the main thread spends its time in `BUSY_SLICE_MILLIS` slices of work between turns. */
const whileBusy = async (run: () => Promise<void>): Promise<void> => {
  let busy = true
  const slice = (): void => {
    if (!busy) return
    const until = performance.now() + BUSY_SLICE_MILLIS
    while (performance.now() < until) {
      // the application's own synchronous work
    }
    setImmediate(slice)
  }
  setImmediate(slice)
  try {
    await run()
  } finally {
    busy = false
  }
}

const mainThreadFibs = (): number => {
  const start = performance.now()
  for (let i = 0; i < FIB_COUNT; i++) fib(FIB_N)
  return performance.now() - start
}

/** Every contender runs every workload once before timing (JIT, and our pool learns what each task costs). */
const warmUp = async (c: Contender): Promise<void> => {
  await c.tiny()
  await c.roundTrips()
  await c.fibs()
  await c.sums(freshArrays().slice(0, 20))
}

/** Median over rounds of ours / theirs in the same round: both ran under the same conditions. */
const pairedRatio = (ours: ReadonlyArray<number>, theirs: ReadonlyArray<number>): number =>
  median(ours.map((value, round) => value / theirs[round]!))

const main = async (): Promise<void> => {
  const startups: Record<string, Array<Startup>> = { ours: [], oursOffload: [], piscina: [], raw: [] }
  for (let i = 0; i < STARTUPS; i++) {
    for (let j = 0; j < startupContenders.length; j++) {
      const contender = startupContenders[(i + j) % startupContenders.length]!
      startups[contender]!.push(startupOnce(contender))
    }
  }
  const coldStartups: Record<string, Array<Startup>> = { ours: [], piscina: [] }
  for (let i = 0; i < COLD_STARTUPS; i++) {
    for (const contender of i % 2 === 0 ? ["ours", "piscina"] as const : ["piscina", "ours"] as const) {
      coldStartups[contender]!.push(coldStartupOnce(contender))
    }
  }
  const firstResults = (runs: ReadonlyArray<Startup>) => runs.map((r) => r.firstResult)
  const totals = (runs: ReadonlyArray<Startup>) => runs.map((r) => r.total)

  const contenders: Array<Contender> = [
    await ours(),
    await piscina(1),
    await piscina(8),
    await raw(RAW_IN_FLIGHT),
    await raw(1)
  ]
  for (const c of contenders) await warmUp(c)
  const withoutRelease = await oursWithoutRelease()
  await withoutRelease.sums(freshArrays().slice(0, 20))
  // Per contender, one value per round.
  const tiny: Record<string, Array<number>> = {}
  const latency: Record<string, Array<number>> = {}
  const speedup: Record<string, Array<number>> = {}
  const busySpeedup: Record<string, Array<number>> = {}
  const sums: Record<string, Array<number>> = {}
  const sumsGc: Array<number> = []
  const mainFibs: Array<number> = []
  for (let round = 0; round < REPEATS; round++) {
    // Each round starts with a different contender, so that none always runs first or last.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!)
    for (const c of order) (tiny[c.name] ??= []).push(TINY / ((await time("tiny", c.name, c.tiny)) / 1000))
    const mainFib = mainThreadFibs()
    mainFibs.push(mainFib)
    for (const c of order) (speedup[c.name] ??= []).push(mainFib / (await time("fib", c.name, c.fibs)))
    for (const c of order) {
      ;(busySpeedup[c.name] ??= []).push(mainFib / (await time("busy fib", c.name, () => whileBusy(c.fibs))))
    }
    for (const c of order) {
      const data = freshArrays()
      ;(sums[c.name] ??= []).push(ARRAYS / ((await time("transfer", c.name, () => c.sums(data))) / 1000))
    }
    // Last, on workers of their own: the arrays these leave to the garbage collector must not load the others.
    const data = freshArrays()
    sumsGc.push(ARRAYS / ((await time("transfer", "ours, no releasePayload", () => withoutRelease.sums(data))) / 1000))
  }
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!)
    for (const c of order) (latency[c.name] ??= []).push(median(await c.roundTrips()) * 1000)
  }
  for (const c of contenders) await c.close()
  await withoutRelease.close()
  gcObserver.disconnect()

  const results: Array<Measurement> = []
  const value = (table: Record<string, Array<number>>, name: string) => median(table[name]!)
  for (const c of contenders) {
    results.push({ name: `tiny tasks: ${c.name}`, value: value(tiny, c.name), unit: "tasks/s" })
  }
  for (const c of contenders) {
    results.push({ name: `round trip: ${c.name}`, value: value(latency, c.name), unit: "µs (median)" })
  }
  results.push({ name: "fib(30) x 32: main thread", value: median(mainFibs), unit: "ms" })
  for (const c of contenders) {
    results.push({ name: `fib(30) x 32 speedup: ${c.name}`, value: value(speedup, c.name), unit: "x main thread" })
  }
  for (const c of contenders) {
    results.push({
      name: `fib(30) x 32 speedup, busy event loop: ${c.name}`,
      value: value(busySpeedup, c.name),
      unit: "x main thread"
    })
  }
  for (const c of contenders) {
    results.push({ name: `1 MiB transfer sums: ${c.name}`, value: value(sums, c.name), unit: "tasks/s" })
  }
  results.push({ name: "1 MiB transfer sums: ours, no releasePayload", value: median(sumsGc), unit: "tasks/s" })
  for (const workload of ["tiny", "fib", "busy fib", "transfer"]) {
    for (const contender of Object.keys(windows[workload]!)) {
      results.push({
        name: `main-thread GC in ${workload} windows: ${contender}`,
        value: gcInWindows(workload, contender),
        unit: "ms (median)"
      })
    }
  }
  const startupNames: Record<string, string> = {
    ours: "ours (typed tasks)",
    oursOffload: "ours (offload)",
    piscina: "piscina",
    raw: "raw"
  }
  for (const contender of startupContenders) {
    const name = startupNames[contender]!
    const runs = startups[contender]!
    results.push({ name: `startup: ${name}`, value: median(firstResults(runs)), unit: "ms" })
    results.push({ name: `startup, program's imports: ${name}`, value: median(runs.map((r) => r.imports)), unit: "ms" })
    results.push({ name: `startup, process start to first result: ${name}`, value: median(totals(runs)), unit: "ms" })
  }
  for (const contender of ["ours", "piscina"]) {
    results.push({
      name: `startup, first run: ${startupNames[contender]!}`,
      value: median(firstResults(coldStartups[contender]!)),
      unit: "ms"
    })
  }

  const rawPipelined = "raw, 64 in flight"
  const rawOne = "raw, 1 in flight"
  writeReport("pool", results, {
    tinyVsPiscina: pairedRatio(tiny.ours!, tiny.piscina!),
    tinyVsPiscina8: pairedRatio(tiny.ours!, tiny["piscina 8/worker"]!),
    tinyVsRawPipelined: pairedRatio(tiny.ours!, tiny[rawPipelined]!),
    tinyVsRawOneInFlight: pairedRatio(tiny.ours!, tiny[rawOne]!),
    latencyVsPiscina: pairedRatio(latency.ours!, latency.piscina!),
    latencyVsRaw: pairedRatio(latency.ours!, latency[rawOne]!),
    speedupVsRaw: pairedRatio(speedup.ours!, speedup[rawOne]!),
    busySpeedupVsPiscina: pairedRatio(busySpeedup.ours!, busySpeedup.piscina!),
    busySpeedupVsRaw: pairedRatio(busySpeedup.ours!, busySpeedup[rawOne]!),
    transferVsRaw: pairedRatio(sums.ours!, sums[rawPipelined]!),
    transferVsPiscina: pairedRatio(sums.ours!, sums.piscina!),
    transferNoReleaseVsRaw: pairedRatio(sumsGc, sums[rawPipelined]!),
    startupVsPiscina: pairedRatio(firstResults(startups.ours!), firstResults(startups.piscina!)),
    startupOffloadVsPiscina: pairedRatio(firstResults(startups.oursOffload!), firstResults(startups.piscina!)),
    startupColdVsPiscina: pairedRatio(firstResults(coldStartups.ours!), firstResults(coldStartups.piscina!)),
    programStartupVsPiscina: pairedRatio(totals(startups.ours!), totals(startups.piscina!))
  })
}

await main()
