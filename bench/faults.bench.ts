/**
 * `npm run bench -- faults`: the fault matrix of `test/faults` with 1, 100 and 10,000 calls in flight, in
 * threads and child processes, at the pool's defaults, side by side with piscina (threads) for the crashes:
 * one poisoned call among N healthy ones, each healthy call logging its execution in the worker.
 *
 * Per case: the poisoned call's error, the healthy calls that failed (collateral) and how many of those had
 * run (answers lost with the worker), the calls that ran twice, the recovery time (from the poisoned call's
 * end to the pool back at full size, ms) and the wall time (first call to last caller settled, ms). Then a
 * soak, each contender in a process of its own: `SOAK_CALLS` (default 1,000,000) tiny calls at 256 in flight
 * (ours with a typed entry, and with `offload` on the built-in entry, which loads no `effect` in the workers;
 * piscina), RSS and the main thread's heap every 100k calls.
 *
 * Ratios: ours / piscina's recovery time per crash kind at 10,000 in flight (lower is better).
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Piscina } from "piscina"
import * as WorkerPool from "../src/layers/WorkerPool.ts"
import { expectedPoison, poisonCase, shutdownCase } from "../test/faults/FaultMatrix.ts"
import type { Mode, Outcome, PoisonKind } from "../test/faults/FaultMatrix.ts"
import { Work } from "../test/faults/fixtures/fault-tasks.ts"
import { writeReport } from "./report.ts"
import type { Measurement } from "./report.ts"

const IN_FLIGHT = [1, 100, 10_000]
const KINDS: ReadonlyArray<PoisonKind> = [
  "exit",
  "uncaught",
  "oom",
  "loop",
  "not-cloneable",
  "getter-throws",
  "schema",
  "unknown-task"
]
const SOAK_CALLS = Number(process.env.SOAK_CALLS ?? 1_000_000)

interface Row {
  readonly contender: string
  readonly outcome: Outcome
  readonly expected: string
}

const rows: Array<Row> = []
const results: Array<Measurement> = []

const record = (contender: string, outcome: Outcome, expected: string): void => {
  rows.push({ contender, outcome, expected })
  const key = `${contender} ${outcome.mode} ${outcome.name} ${outcome.inFlight}`
  results.push(
    { name: `${key} recovery`, value: outcome.recoveryMs, unit: "ms" },
    { name: `${key} wall`, value: outcome.wallMs, unit: "ms" },
    { name: `${key} collateral`, value: outcome.collateral.length, unit: "calls" },
    { name: `${key} ran twice`, value: outcome.ranTwice.length, unit: "calls" }
  )
}

// -----------------------------------------------------------------------------------------------------------
// piscina, the same crashes

const piscinaEntry = new URL("./workers/faults-piscina.ts", import.meta.url).href

const piscinaCase = async (kind: "exit" | "uncaught" | "oom" | "loop", inFlight: number): Promise<Outcome> => {
  const log = path.join(os.tmpdir(), `faults-piscina-${process.pid}-${Math.random().toString(36).slice(2)}.log`)
  fs.writeFileSync(log, "")
  const pool = new Piscina({
    filename: piscinaEntry,
    env: { ...process.env, FAULT_LOG: log },
    ...(kind === "oom" ? { resourceLimits: { maxOldGenerationSizeMb: 64 } } : {})
  })
  let warm = -1
  for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 64 }, () => pool.run(warm--, { name: "work" })))
  const fullSize = pool.threads.length
  const start = performance.now()
  let poisonEnd = 0
  const half = inFlight >> 1
  const tag = (p: Promise<unknown>) =>
    p.then(() => "success", (e: Error) => e.name === "AbortError" ? "AbortError" : "Error")
  const healthy = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => tag(pool.run(from + i, { name: "work" })))
  const poisoned = tag(
    pool.run(kind, { name: "poison", ...(kind === "loop" ? { signal: AbortSignal.timeout(200) } : {}) })
  ).then((t) => {
    poisonEnd = performance.now()
    return t
  })
  const tags = await Promise.all([...healthy(1, half), poisoned, ...healthy(half + 1, inFlight - half)])
  const wallMs = performance.now() - start
  for (let i = 0; i < 500 && pool.threads.length < fullSize; i++) await new Promise((r) => setTimeout(r, 5))
  const recoveryMs = performance.now() - poisonEnd
  const counts = new Map<string, number>()
  for (const line of fs.readFileSync(log, "utf8").split("\n")) if (line) counts.set(line, (counts.get(line) ?? 0) + 1)
  await pool.destroy()
  fs.rmSync(log, { force: true })
  const healthyTags = tags.filter((_, i) => i !== half)
  let collateralRan = 0
  healthyTags.forEach((t, i) => {
    if (t !== "success" && counts.get(String(i + 1)) === 1) collateralRan++
  })
  return {
    name: kind,
    mode: "thread",
    inFlight,
    collateral: healthyTags.filter((t) => t !== "success"),
    collateralRan,
    poison: tags[half]!,
    ranTwice: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    notLogged: 0,
    fullSize,
    workersAfter: pool.threads.length,
    recoveryMs,
    wallMs,
    crashed: 0,
    redispatched: 0
  }
}

// -----------------------------------------------------------------------------------------------------------
// The soak: each contender in a process of its own, so that the matrix's leftovers do not count

interface SoakPoint {
  readonly calls: number
  readonly rssMb: number
  readonly heapUsedMb: number
  readonly externalMb: number
}

const memory = (calls: number): SoakPoint => {
  const m = process.memoryUsage()
  return { calls, rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20 }
}

const soakOurs = (entry: "typed" | "offload") =>
  Effect.gen(function*() {
    const pool = yield* WorkerPool.make(
      entry === "typed" ? { entry: new URL("../test/faults/fixtures/fault-worker.ts", import.meta.url) } : {}
    )
    const points: Array<SoakPoint> = []
    const chunk = 100_000
    const inc = (x: number) => x + 1
    for (let done = 0; done < SOAK_CALLS; done += chunk) {
      const ids = Array.from({ length: Math.min(chunk, SOAK_CALLS - done) }, (_, i) => done + i)
      yield* Effect.forEach(ids, (id) => entry === "typed" ? pool.run(Work, id) : pool.offload(inc, [id]), {
        concurrency: 256,
        discard: true
      })
      points.push(memory(done + chunk))
    }
    return points
  }).pipe(Effect.scoped)

const soakPiscina = async (): Promise<Array<SoakPoint>> => {
  const pool = new Piscina({ filename: piscinaEntry })
  const points: Array<SoakPoint> = []
  const chunk = 100_000
  for (let done = 0; done < SOAK_CALLS; done += chunk) {
    let next = done
    const end = Math.min(done + chunk, SOAK_CALLS)
    const lane = async () => {
      while (next < end) await pool.run(next++, { name: "work" })
    }
    await Promise.all(Array.from({ length: 256 }, lane))
    points.push(memory(end))
  }
  await pool.destroy()
  return points
}

const soakIn = (contender: string) =>
  Effect.promise(() =>
    new Promise<{ contender: string; seconds: number; points: Array<SoakPoint> }>((resolve, reject) => {
      const start = performance.now()
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "soak", contender], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
      child.on("error", reject)
      child.on("close", () => {
        const line = out.split("\n").find((l) => l.startsWith("["))
        if (line === undefined) return reject(new Error(`soak ${contender}: no result in ${out}`))
        resolve({ contender, seconds: (performance.now() - start) / 1000, points: JSON.parse(line) })
      })
    })
  )

// -----------------------------------------------------------------------------------------------------------

const main = Effect.gen(function*() {
  for (const mode of ["thread", "process"] as const satisfies ReadonlyArray<Mode>) {
    for (const kind of KINDS) {
      for (const inFlight of IN_FLIGHT) {
        // The crashes with the poisoned task known to be light, so that it is pipelined with healthy calls.
        const pipelined = kind === "exit" || kind === "uncaught" || kind === "oom" || kind === "loop"
        record("ours", yield* Effect.scoped(poisonCase(mode, kind, inFlight, pipelined)), expectedPoison[kind])
      }
    }
    for (const stuck of [false, true]) {
      for (const inFlight of IN_FLIGHT) {
        record("ours", yield* shutdownCase(mode, inFlight, stuck), stuck ? "PoolShutDown" : "none")
      }
    }
  }
  for (const kind of ["exit", "uncaught", "oom", "loop"] as const) {
    for (const inFlight of IN_FLIGHT) {
      record(
        "piscina",
        yield* Effect.promise(() => piscinaCase(kind, inFlight)),
        kind === "loop" ? "AbortError" : "Error"
      )
    }
  }

  console.log(
    "\ncontender mode     case                      in flight  poison                          collateral (ran)  twice  recovery ms  wall ms"
  )
  for (const { contender, outcome: o } of rows) {
    console.log(
      `${contender.padEnd(9)} ${o.mode.padEnd(8)} ${o.name.padEnd(25)} ${String(o.inFlight).padStart(9)}  ${
        o.poison.padEnd(31)
      } ${`${o.collateral.length} (${o.collateralRan})`.padStart(16)}  ${String(o.ranTwice.length).padStart(5)}  ${
        o.recoveryMs.toFixed(0).padStart(11)
      }  ${o.wallMs.toFixed(0).padStart(7)}`
    )
  }

  const ratios: Record<string, number> = {}
  for (const kind of ["exit", "uncaught", "oom", "loop"]) {
    const ours = rows.find((r) =>
      r.contender === "ours" && r.outcome.mode === "thread" && r.outcome.name === `${kind} (pipelined)` &&
      r.outcome.inFlight === 10_000
    )
    const theirs = rows.find((r) =>
      r.contender === "piscina" && r.outcome.name === kind && r.outcome.inFlight === 10_000
    )
    if (ours !== undefined && theirs !== undefined) {
      ratios[`${kind}RecoveryVsPiscina`] = ours.outcome.recoveryMs / theirs.outcome.recoveryMs
    }
  }
  ratios.wrongPoisonTags = rows.filter((r) => r.contender === "ours" && r.outcome.poison !== r.expected).length
  ratios.collateral = rows.filter((r) => r.contender === "ours").reduce((n, r) => n + r.outcome.collateral.length, 0)
  ratios.ranTwice = rows.filter((r) => r.contender === "ours").reduce((n, r) => n + r.outcome.ranTwice.length, 0)

  if (SOAK_CALLS > 0) {
    for (const contender of ["ours-typed", "ours-offload", "piscina"]) {
      const soak = yield* soakIn(contender)
      const first = soak.points[0]!
      const last = soak.points.at(-1)!
      console.log(
        `soak ${contender}: ${soak.points.map((p) => `${p.calls / 1000}k ${p.rssMb.toFixed(0)} MB`).join(", ")}`
      )
      results.push(
        { name: `soak ${contender} rss at ${first.calls} calls`, value: first.rssMb, unit: "MB" },
        { name: `soak ${contender} rss at ${last.calls} calls`, value: last.rssMb, unit: "MB" },
        { name: `soak ${contender} main heap used at the end`, value: last.heapUsedMb, unit: "MB" },
        { name: `soak ${contender} main external at the end`, value: last.externalMb, unit: "MB" },
        { name: `soak ${contender} calls/s`, value: SOAK_CALLS / soak.seconds, unit: "calls/s" }
      )
      ratios[`soak ${contender} rss growth MB`] = last.rssMb - first.rssMb
    }
  }
  writeReport("faults", results, ratios)
})

const soakChild = process.argv[2] === "soak" ? process.argv[3] : undefined
const run = soakChild === undefined
  ? main
  : Effect.flatMap(
    soakChild === "piscina"
      ? Effect.promise(soakPiscina)
      : soakOurs(soakChild === "ours-typed" ? "typed" : "offload"),
    (points) => Effect.sync(() => console.log(JSON.stringify(points)))
  )

Effect.runPromise(run).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
