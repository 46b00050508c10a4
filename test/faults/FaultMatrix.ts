// The fault matrix, shared by the fault specs (1 and 100 calls in flight) and `npm run bench -- faults`
// (10,000): one poisoned call among N healthy ones, in threads or child processes, at the pool's defaults.
// Every healthy call logs its execution in the worker, so a case can tell that none ran twice.
import { Cause, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Anything, Poison, Unserved, Work } from "./fixtures/fault-tasks.ts"

export const faultEntry = new URL("./fixtures/fault-worker.ts", import.meta.url)
export const fixture = (file: string): URL => new URL(`./fixtures/${file}`, import.meta.url)

export type Mode = "thread" | "process"

/** What one case observed. */
export interface Outcome {
  readonly name: string
  readonly mode: Mode
  readonly inFlight: number
  /** Healthy calls that failed, with their error tags (the collateral). */
  readonly collateral: ReadonlyArray<string>
  /** Of those, the ones that had run (their answer was lost with the worker), by id. */
  readonly collateralRan: number
  /** The poisoned call's error tag (and reason), or "success". */
  readonly poison: string
  /** Ids that ran more than once. */
  readonly ranTwice: ReadonlyArray<string>
  /** Healthy calls that succeeded without having run (should be none). */
  readonly notLogged: number
  /** Workers before the fault, and once recovered. */
  readonly fullSize: number
  readonly workersAfter: number
  /** From the poisoned call's end to the pool back at full size, ms. */
  readonly recoveryMs: number
  /** From the first call to the last caller settled, ms. */
  readonly wallMs: number
  /** Pool stats at the end. */
  readonly crashed: number
  readonly redispatched: number
}

const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "defect"
  const value = error.value as { _tag?: string; reason?: string }
  return value.reason !== undefined ? `${value._tag}(${value.reason})` : String(value._tag)
}

const tempLog = (): string => {
  const file = path.join(os.tmpdir(), `faults-${process.pid}-${Math.random().toString(36).slice(2)}.log`)
  fs.writeFileSync(file, "")
  return file
}

/** Lines of the execution log, counted. */
const readLog = (file: string): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line !== "") counts.set(line, (counts.get(line) ?? 0) + 1)
  }
  return counts
}

export type PoisonKind =
  | "exit"
  | "uncaught"
  | "oom"
  | "loop"
  | "not-cloneable"
  | "getter-throws"
  | "schema"
  | "unknown-task"

/** The poisoned call of each kind. */
const poisonCall = (pool: WorkerPool.WorkerPool["Service"], kind: PoisonKind): Effect.Effect<unknown, unknown> => {
  switch (kind) {
    case "loop":
      return pool.run(Poison, "loop", { timeout: 200 })
    case "exit":
    case "uncaught":
    case "oom":
      return pool.run(Poison, kind)
    case "not-cloneable":
      return pool.run(Anything, { data: { f: () => 1 } })
    case "getter-throws":
      return pool.run(Anything, {
        get data(): number {
          throw new Error("this getter throws")
        }
      })
    case "schema":
      return pool.run(Work, "not a number" as unknown as number)
    case "unknown-task":
      return pool.run(Unserved, 1)
  }
}

const range = (from: number, count: number): Array<number> => Array.from({ length: count }, (_, i) => from + i)

/**
 * One poisoned call of `kind` among `inFlight` healthy ones, all in flight at once on a fresh pool at the
 * defaults (plus a heap limit for the out-of-memory case).
 */
export const poisonCase = (
  mode: Mode,
  kind: PoisonKind,
  inFlight: number,
  /**
   * Whether the pool first learns that the poisoned task is light, so that healthy calls are pipelined around
   * it on the same worker (otherwise a task it has never seen goes alone to an idle worker).
   */
  pipelined = false
): Effect.Effect<Outcome, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const log = tempLog()
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(log, { force: true })))
    const pool = yield* WorkerPool.make({
      entry: faultEntry,
      mode,
      env: { FAULT_LOG: log },
      ...(kind === "oom" ? { resourceLimits: { maxOldGenerationSizeMb: 64 } } : {})
    })
    // The pool learns that `work` is light (so it is pipelined) and grows to its full size.
    let warm = -1
    const burst = (count: number) =>
      Effect.forEach(range(0, count), () => pool.run(Work, warm--), { concurrency: "unbounded", discard: true })
    const maxWorkers = yield* Effect.sync(() => os.availableParallelism())
    for (let i = 0; i < 20; i++) {
      yield* burst(64)
      if ((yield* pool.stats).workers >= Math.min(2, maxWorkers)) break
    }
    if (pipelined) {
      for (let i = 0; i < 8; i++) yield* pool.run(Poison, "none")
    }
    const before = yield* pool.stats
    const fullSize = before.workers
    /** Whether the fault ends with a worker replaced (a crash or a termination), rather than none lost. */
    const replaces = kind === "exit" || kind === "uncaught" || kind === "oom" || kind === "loop"

    const start = performance.now()
    let poisonEnd = 0
    const half = inFlight >> 1
    const healthy = (ids: Array<number>) => ids.map((id) => Effect.exit(pool.run(Work, id)))
    const poisoned = Effect.exit(poisonCall(pool, kind)).pipe(Effect.tap(() =>
      Effect.sync(() => {
        poisonEnd = performance.now()
      })
    ))
    const exits = yield* Effect.all(
      [...healthy(range(1, half)), poisoned, ...healthy(range(half + 1, inFlight - half))],
      { concurrency: "unbounded" }
    )
    const wallMs = performance.now() - start
    const poisonExit = exits[half]!
    const healthyExits = exits.filter((_, i) => i !== half)
    const collateral = healthyExits.map(tagOf).filter((tag) => tag !== "success")

    // Back to full size: calls keep coming until it is.
    for (let i = 0; i < 500; i++) {
      const stats = yield* pool.stats
      const replaced = !replaces || (stats.spawned > before.spawned && stats.workers === stats.workerIds.length &&
        !before.workerIds.every((id) => stats.workerIds.includes(id)))
      if (replaced && stats.workers >= fullSize && stats.booting === 0) break
      yield* burst(16)
      yield* Effect.sleep("5 millis")
    }
    const recoveryMs = performance.now() - poisonEnd
    const stats = yield* pool.stats
    const counts = readLog(log)
    const ranTwice = [...counts].filter(([, n]) => n > 1).map(([id]) => id)
    let notLogged = 0
    let collateralRan = 0
    for (let id = 1; id <= inFlight; id++) {
      const ran = counts.get(String(id)) === 1
      if (Exit.isSuccess(healthyExits[id - 1]!)) {
        if (!ran) notLogged++
      } else if (ran) collateralRan++
    }
    return {
      name: pipelined ? `${kind} (pipelined)` : kind,
      mode,
      inFlight,
      collateral,
      collateralRan,
      poison: tagOf(poisonExit),
      ranTwice,
      notLogged,
      fullSize,
      workersAfter: stats.workers,
      recoveryMs,
      wallMs,
      crashed: stats.crashed,
      redispatched: stats.redispatched
    }
  })

/** What each poisoned call must fail with. */
export const expectedPoison: Record<PoisonKind, string> = {
  exit: "WorkerCrashed(exit)",
  uncaught: "WorkerCrashed(uncaught)",
  oom: "WorkerCrashed(out-of-memory)",
  loop: "TaskTimeout",
  "not-cloneable": "PayloadInvalid(not-cloneable)",
  "getter-throws": "PayloadInvalid(not-cloneable)",
  schema: "PayloadInvalid(schema)",
  "unknown-task": "UnknownTask"
}

/** Shuts the pool down with `inFlight` calls running (one of them stuck when `stuck`): every caller settles. */
export const shutdownCase = (
  mode: Mode,
  inFlight: number,
  stuck: boolean
): Effect.Effect<Outcome & { readonly tags: ReadonlyArray<string>; readonly closeMs: number }, unknown> =>
  Effect.gen(function*() {
    const log = tempLog()
    const scope = yield* Scope.make()
    const pool = yield* WorkerPool.make({
      entry: faultEntry,
      mode,
      env: { FAULT_LOG: log },
      shutdownDeadline: 500
    }).pipe(Scope.provide(scope))
    yield* pool.run(Work, -1)
    const start = performance.now()
    const calls = yield* Effect.forkChild(
      Effect.all(
        [
          ...(stuck ? [Effect.exit(pool.run(Poison, "loop"))] : []),
          ...range(1, inFlight).map((id) => Effect.exit(pool.run(Work, id)))
        ],
        { concurrency: "unbounded" }
      )
    )
    yield* Effect.sleep("20 millis")
    const closing = performance.now()
    yield* Scope.close(scope, Exit.void)
    const closeMs = performance.now() - closing
    const exits = yield* Fiber.join(calls)
    const wallMs = performance.now() - start
    const tags = exits.map(tagOf)
    const counts = readLog(log)
    fs.rmSync(log, { force: true })
    return {
      name: stuck ? "shutdown-stuck" : "shutdown",
      mode,
      inFlight,
      collateral: tags.filter((tag) => tag !== "success" && tag !== "PoolShutDown"),
      collateralRan: 0,
      poison: stuck ? tags[0]! : "none",
      ranTwice: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
      notLogged: 0,
      fullSize: 0,
      workersAfter: 0,
      recoveryMs: 0,
      wallMs,
      crashed: 0,
      redispatched: 0,
      tags,
      closeMs
    }
  })
