/**
 * `npm run bench -- http`: does an offloading server keep answering? An Effect HTTP server
 * (`@effect/platform-node`) on 127.0.0.1 whose `GET /work` computes fib(27) on a pool of 2 threads under 8
 * connections, while `GET /health`, answered inline, is called on 1 connection alongside. Load comes from
 * `autocannon` in a process of its own (`http/load.ts`), so that the load generator does not share the
 * server's event loop (`http/server.ts`).
 *
 * - Contenders: `inline` (fib on the event loop, no offload), `piscina` 5.3, `ours` (a typed task), and ours
 *   with `niceIncrement: 5` (its workers at a lower OS priority than the event loop).
 * - Conditions: a quiet machine, and one with a CPU hog (a process spinning on one core) beside the server,
 *   since production hosts are rarely idle.
 * - Each run: a fresh server, a warm-up of `WARM_SECONDS`, then a window of `WINDOW_SECONDS`; the server
 *   reports its event-loop delay (`monitorEventLoopDelay`, reset when the window starts) and the suite reads
 *   each of its threads' CPU time from procfs over the window: the main thread, the pool's worker threads (by
 *   name: any thread that is not one of Node's or V8's own), and those helpers (GC, compiler, libuv), with the
 *   workers' CPU per /work request and the main thread's per request.
 * - `RUNS` rounds; in each, both conditions, and in each condition every contender once, starting with a
 *   different one each round, so that noise from other processes hits them alike. Values are medians over
 *   rounds; ratios are medians of the per-round ratios ours / piscina (measured minutes apart at most).
 *
 * Every process it starts (server, load, hog) is bounded in time and stopped by the suite.
 * `HTTP_BENCH_CONTENDERS` (comma-separated; `ours:{json}` passes pool options) and `HTTP_BENCH_RUNS` override
 * the defaults, for experiments.
 */
import { fork, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { median, writeReport } from "./report.ts"
import type { Measurement } from "./report.ts"

// Single rounds swing by 0.7-1.6x of piscina on the shared 2-core VM (8 pairs, load 4-8): 5 rounds for the medians.
const RUNS = Number(process.env.HTTP_BENCH_RUNS ?? 5)
const WARM_SECONDS = 1
const WINDOW_SECONDS = 3
/** A run that takes longer than this is stuck: its processes are killed and the suite fails. */
const RUN_DEADLINE_MILLIS = 30_000
/** How long a hog spins at most, should the suite die without killing it. */
const HOG_MAX_MILLIS = 60_000

interface Contender {
  readonly name: string
  readonly kind: string
  readonly options: string
}

/** Ours with `niceIncrement: 5` as well: what giving the event loop the OS's preference costs in /work. */
const defaultContenders: ReadonlyArray<Contender> = [
  { name: "inline", kind: "inline", options: "{}" },
  { name: "piscina", kind: "piscina", options: "{}" },
  { name: "ours", kind: "ours", options: "{}" },
  { name: "ours, nice +5", kind: "ours", options: JSON.stringify({ niceIncrement: 5 }) }
]

const contenders: ReadonlyArray<Contender> = process.env.HTTP_BENCH_CONTENDERS === undefined
  ? defaultContenders
  : process.env.HTTP_BENCH_CONTENDERS.split(/,(?![^{]*\})/).map((spec) => {
    const at = spec.indexOf(":")
    return at < 0
      ? { name: spec, kind: spec, options: "{}" }
      : { name: spec, kind: spec.slice(0, at), options: spec.slice(at + 1) }
  })

interface Endpoint {
  readonly requests: number
  readonly reqPerSec: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
}

interface Run {
  readonly work: Endpoint
  readonly health: Endpoint
  readonly loopDelayP99: number
  readonly mainCpuSeconds: number
  /** CPU of the pool's worker threads. */
  readonly workerCpuSeconds: number
  /** CPU of Node's and V8's own threads (GC, compiler, libuv). */
  readonly helperCpuSeconds: number
}

const serverEntry = new URL("./http/server.ts", import.meta.url)
const loadEntry = new URL("./http/load.ts", import.meta.url)

/** Threads that Node and V8 start in every process (GC and compile helpers, libuv's pool, the inspector). */
const helperThread = /^(?:V8Worker|DelayedTaskSche|SignalInspector|libuv-worker|node)$/

/** CPU seconds (user + system) of each thread of process `pid`, by thread id, and its name. */
const threadCpu = (pid: number): Map<number, readonly [number, string]> => {
  const ticks = 100 // USER_HZ on Linux
  const out = new Map<number, readonly [number, string]>()
  let tids: Array<string>
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // fields[0] is field 3 (state): utime and stime are fields 14 and 15
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      out.set(Number(tid), [(Number(fields[11]) + Number(fields[12])) / ticks, name])
    } catch {
      // the thread exited meanwhile
    }
  }
  return out
}

/** CPU seconds over the window: the main thread, the pool's worker threads, and Node's and V8's helpers. */
const cpuDelta = (
  pid: number,
  before: Map<number, readonly [number, string]>,
  after: Map<number, readonly [number, string]>
) => {
  let main = 0
  let workers = 0
  let helpers = 0
  for (const [tid, [seconds, name]] of after) {
    const spent = seconds - (before.get(tid)?.[0] ?? 0)
    if (tid === pid) main += spent
    else if (helperThread.test(name)) helpers += spent
    else workers += spent
  }
  return { main, workers, helpers }
}

/** Resolves with the first message of `child` that `pick` accepts; rejects if it exits first. */
const nextMessage = <A>(child: ChildProcess, pick: (message: unknown) => A | undefined): Promise<A> =>
  new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      const value = pick(message)
      if (value === undefined) return
      cleanup()
      resolve(value)
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`process exited (code ${code}) before it answered`))
    }
    const cleanup = (): void => {
      child.off("message", onMessage)
      child.off("exit", onExit)
    }
    child.on("message", onMessage)
    child.on("exit", onExit)
  })

const exited = (child: ChildProcess, millis: number): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
    }, millis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
  })

const startHog = (): ChildProcess =>
  spawn(process.execPath, ["-e", `const end = Date.now() + ${HOG_MAX_MILLIS}; while (Date.now() < end) {}`], {
    stdio: "ignore"
  })

const runOnce = async (contender: Contender, hog: boolean): Promise<Run> => {
  const children: Array<ChildProcess> = []
  const deadline = setTimeout(() => {
    for (const child of children) child.kill("SIGKILL")
  }, RUN_DEADLINE_MILLIS)
  try {
    if (hog) children.push(startHog())
    const server = fork(serverEntry, [contender.kind, contender.options], { execArgv: [], stdio: "inherit" })
    children.push(server)
    const port = await nextMessage(server, (m) => (m as { port?: number }).port)
    const load = fork(loadEntry, [String(port), String(WINDOW_SECONDS), String(WARM_SECONDS)], {
      execArgv: [],
      stdio: "inherit"
    })
    children.push(load)
    let before = new Map<number, readonly [number, string]>()
    const windowStarted = nextMessage(load, (m) => m === "window" ? true : undefined).then(() => {
      before = threadCpu(server.pid!)
      server.send("reset")
    })
    const results = await nextMessage(load, (m) => (m as { work?: Endpoint }).work ? m as Run : undefined)
    await windowStarted
    const after = threadCpu(server.pid!)
    const statsReply = nextMessage(server, (m) => (m as { stats?: { p99: number } }).stats)
    server.send("stats")
    const stats = await statsReply
    server.send("stop")
    await exited(server, 10_000)
    await exited(load, 5_000)
    const cpu = cpuDelta(server.pid!, before, after)
    if (results.work.errors > 0 || results.health.errors > 0) {
      console.error(`  ${contender.name}: ${results.work.errors} /work and ${results.health.errors} /health errors`)
    }
    return {
      work: results.work,
      health: results.health,
      loopDelayP99: stats.p99,
      mainCpuSeconds: cpu.main,
      workerCpuSeconds: cpu.workers,
      helperCpuSeconds: cpu.helpers
    }
  } finally {
    clearTimeout(deadline)
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
}

const conditions = [{ name: "quiet", hog: false }, { name: "hog", hog: true }] as const

const main = async (): Promise<void> => {
  // runs[condition][contender]: one per round
  const runs: Record<string, Record<string, Array<Run>>> = {}
  for (let round = 0; round < RUNS; round++) {
    for (const condition of conditions) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!)
      for (const contender of order) {
        const run = await runOnce(contender, condition.hog)
        ;((runs[condition.name] ??= {})[contender.name] ??= []).push(run)
        console.log(
          `  round ${round + 1} ${condition.name.padEnd(5)} ${contender.name.padEnd(10)} /work ${
            run.work.reqPerSec.toFixed(0)
          }/s  /health ${run.health.reqPerSec.toFixed(0)}/s p99 ${run.health.p99} ms  loop p99 ${
            run.loopDelayP99.toFixed(2)
          } ms  cpu main ${run.mainCpuSeconds.toFixed(2)} s workers ${run.workerCpuSeconds.toFixed(2)} s helpers ${
            run.helperCpuSeconds.toFixed(2)
          } s`
        )
      }
    }
  }

  const results: Array<Measurement> = []
  const ratios: Record<string, number> = {}
  for (const condition of conditions) {
    const byContender = runs[condition.name]!
    for (const contender of contenders) {
      const rs = byContender[contender.name]!
      const label = `${condition.name}: ${contender.name}`
      results.push(
        { name: `/work ${label}`, value: median(rs.map((r) => r.work.reqPerSec)), unit: "req/s" },
        { name: `/health ${label}`, value: median(rs.map((r) => r.health.reqPerSec)), unit: "req/s" },
        { name: `/health p99 ${label}`, value: median(rs.map((r) => r.health.p99)), unit: "ms" },
        { name: `event-loop delay p99 ${label}`, value: median(rs.map((r) => r.loopDelayP99)), unit: "ms" },
        { name: `main thread CPU ${label}`, value: median(rs.map((r) => r.mainCpuSeconds)), unit: "s" },
        { name: `worker threads CPU ${label}`, value: median(rs.map((r) => r.workerCpuSeconds)), unit: "s" },
        {
          name: `worker CPU per /work request ${label}`,
          value: median(rs.map((r) => (r.workerCpuSeconds * 1000) / Math.max(1, r.work.requests))),
          unit: "ms"
        },
        {
          name: `main CPU per request ${label}`,
          value: median(rs.map((r) => (r.mainCpuSeconds * 1e6) / Math.max(1, r.work.requests + r.health.requests))),
          unit: "µs"
        },
        { name: `helper threads CPU ${label}`, value: median(rs.map((r) => r.helperCpuSeconds)), unit: "s" }
      )
    }
    const ours = byContender.ours
    const piscina = byContender.piscina
    if (ours === undefined || piscina === undefined) continue
    const paired = (f: (r: Run) => number) => median(ours.map((r, i) => f(r) / f(piscina[i]!)))
    const suffix = condition.hog ? "Hog" : ""
    ratios[`workVsPiscina${suffix}`] = paired((r) => r.work.reqPerSec)
    ratios[`healthVsPiscina${suffix}`] = paired((r) => r.health.reqPerSec)
    // autocannon reports latencies in whole milliseconds: a p99 under 1 ms reads 0, and two of them are equal
    // within its resolution, not a ratio of 0 / 0
    ratios[`healthP99VsPiscina${suffix}`] = paired((r) => Math.max(1, r.health.p99))
    ratios[`loopDelayP99VsPiscina${suffix}`] = paired((r) => r.loopDelayP99)
  }
  writeReport("http", results, ratios)
}

await main()
