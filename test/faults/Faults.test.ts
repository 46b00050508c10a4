// The fault matrix at the pool's defaults, in threads and child processes, with 1 and 100 calls in flight:
// every caller settles, only the poisoned call fails and with the right tag, no call runs twice (workers log
// each execution), and the pool is back to full size. `npm run bench -- faults` runs it with 10,000.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Metric, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WorkerBootFailed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { expectedPoison, fixture, poisonCase, shutdownCase } from "./FaultMatrix.ts"
import type { Mode, Outcome, PoisonKind } from "./FaultMatrix.ts"
import { Poison, Work } from "./fixtures/fault-tasks.ts"

const crashes: ReadonlyArray<PoisonKind> = ["exit", "uncaught", "oom", "loop"]
const rejections: ReadonlyArray<PoisonKind> = ["not-cloneable", "getter-throws", "schema", "unknown-task"]

/**
 * `lostAnswers`: healthy calls may fail with `WorkerCrashed` if they had run and their answers were still
 * batched in the worker when it died with no last word (out of memory, or terminated in an endless loop),
 * which only happens when they shared a batch with the poisoned call. They never run again.
 */
const check = (outcome: Outcome, kind: PoisonKind, lostAnswers = false): void => {
  const where = `${outcome.name}, ${outcome.mode}, ${outcome.inFlight} in flight`
  assert.strictEqual(outcome.poison, expectedPoison[kind], `the poisoned call's error (${where})`)
  if (lostAnswers) {
    for (const tag of outcome.collateral) assert.match(tag, /^WorkerCrashed/, where)
    assert.strictEqual(outcome.collateralRan, outcome.collateral.length, `only calls that ran fail (${where})`)
  } else {
    assert.deepStrictEqual(outcome.collateral, [], `no healthy call fails (${where})`)
  }
  assert.deepStrictEqual(outcome.ranTwice, [], `no call runs twice (${where})`)
  assert.strictEqual(outcome.notLogged, 0, `every success ran (${where})`)
  assert.isAtLeast(outcome.workersAfter, outcome.fullSize, `back to full size (${where})`)
}

for (const mode of ["thread", "process"] as const satisfies ReadonlyArray<Mode>) {
  describe(`faults (${mode} workers)`, () => {
    for (const kind of crashes) {
      it.live(`${kind}: only the poisoned call fails, nothing runs twice, the pool comes back`, () =>
        Effect.gen(function*() {
          // A task the pool has never seen goes alone to an idle worker; one it knows to be light is pipelined
          // with the healthy calls, on the same worker.
          const cases = [[100, false], [1, true], [100, true]] as const
          for (const [inFlight, pipelined] of cases) {
            const outcome = yield* Effect.scoped(poisonCase(mode, kind, inFlight, pipelined))
            check(outcome, kind, pipelined && (kind === "oom" || kind === "loop"))
            assert.strictEqual(outcome.crashed, kind === "loop" ? 0 : 1, "one crash (a termination is none)")
          }
        }))
    }

    it.live("payloads that cannot cross, schema-invalid payloads and unknown tasks fail alone, and kill no worker", () =>
      Effect.gen(function*() {
        for (const kind of rejections) {
          const outcome = yield* Effect.scoped(poisonCase(mode, kind, 100))
          check(outcome, kind)
          assert.strictEqual(outcome.crashed, 0, `${kind}: no worker died`)
        }
      }))

    it.live("shutdown mid-run: every caller settles, with its answer or PoolShutDown, nothing runs twice", () =>
      Effect.gen(function*() {
        for (const stuck of [false, true]) {
          const outcome = yield* shutdownCase(mode, 100, stuck)
          assert.deepStrictEqual(outcome.collateral, [])
          assert.deepStrictEqual(outcome.ranTwice, [])
          assert.strictEqual(outcome.tags.length, stuck ? 101 : 100)
          if (stuck) assert.strictEqual(outcome.poison, "PoolShutDown", "the stuck call fails at the deadline")
        }
      }))
  })
}

const bootError = <A, E>(exit: Exit.Exit<A, E>): WorkerBootFailed => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error))
  const value = (error as Option.Some<E>).value
  assert.instanceOf(value, WorkerBootFailed)
  return value as WorkerBootFailed
}

for (const mode of ["thread", "process"] as const satisfies ReadonlyArray<Mode>) {
  describe(`boot and worker faults (${mode} workers)`, () => {
    it.live("an entry that throws at import fails the pool with WorkerBootFailed carrying the error", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Effect.scoped(WorkerPool.make({ entry: new URL("../pool/fixtures/boot-throws.ts", import.meta.url), mode }))
        )
        assert.include(String((bootError(exit).cause as Error).message), "the worker's own boot error")
      }))

    it.live("an import that never finishes fails the start once, within bootTimeout (not maxBootFailures times it)", () =>
      Effect.gen(function*() {
        const start = performance.now()
        const exit = yield* Effect.exit(
          Effect.scoped(
            WorkerPool.make({
              entry: fixture("hangs-in-import.ts"),
              mode,
              bootTimeout: 1_000,
              maxBootFailures: 3
            })
          )
        )
        const elapsed = performance.now() - start
        assert.include(String((bootError(exit).cause as Error).message), "did not become ready within 1000 ms")
        assert.isBelow(elapsed, 2_900, "bounded as a whole, not 3 x 1000 ms")
      }))

    it.live("replacements that cannot boot for a while: the healthy worker serves every call, then the pool is whole again", () =>
      Effect.gen(function*() {
        const marker = path.join(os.tmpdir(), `fault-boot-${process.pid}-${Date.now()}`)
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(marker, { force: true })))
        const pool = yield* WorkerPool.make({
          entry: fixture("boots-when-absent.ts"),
          mode,
          env: { FAULT_BOOT_MARKER: marker },
          minWorkers: 2,
          maxWorkers: 2
        })
        yield* Effect.forEach([1, 2, 3, 4], (id) => pool.run(Work, id), { concurrency: "unbounded" })
        yield* eventuallyStats(pool, (s) => s.workers === 2 && s.booting === 0)
        fs.writeFileSync(marker, "")
        // One worker dies; its replacements fail to boot while the marker exists.
        const crash = yield* Effect.exit(pool.run(Poison, "exit"))
        assert.isTrue(Exit.isFailure(crash))
        yield* eventuallyStats(pool, (s) => s.bootFailures >= 3)
        const during = yield* Effect.forEach([5, 6, 7, 8], (id) => Effect.exit(pool.run(Work, id)), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(during.map((e) => Exit.isSuccess(e) ? "ok" : String(Cause.squash(e.cause))), [
          "ok",
          "ok",
          "ok",
          "ok"
        ], "while a worker is healthy, calls run on it")
        const stats = yield* pool.stats
        assert.include(stats.lastBootError, "refusing to boot")
        const counter = (yield* Metric.snapshot).find((m) => m.id === "orchestrator_pool_boot_failures_total")
        assert.isAtLeast((counter?.state as { count: number } | undefined)?.count ?? 0, 3, "and in the metrics")
        fs.rmSync(marker)
        yield* eventuallyStats(pool, (s) => s.workers === 2 && s.booting === 0)
        const after = yield* Effect.forEach([9, 10, 11, 12], (id) => pool.run(Work, id), { concurrency: "unbounded" })
        assert.deepStrictEqual(after, [9, 10, 11, 12])
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

    it.live("a stderr line about the heap does not make a later exit read as out of memory", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ entry: fixture("fault-worker.ts"), mode, minWorkers: 1, maxWorkers: 1 })
        assert.strictEqual(yield* pool.run(Poison, "heap-line"), 0)
        const exit = yield* Effect.exit(pool.run(Poison, "exit"))
        assert.isTrue(Exit.isFailure(exit))
        const error = Cause.findErrorOption((exit as Exit.Failure<number, unknown>).cause)
        assert.strictEqual((Option.getOrUndefined(error) as { reason?: string } | undefined)?.reason, "exit")
      }))

    it.live("an entry that imports the main barrel serves its tasks", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ entry: fixture("imports-barrel.ts"), mode, minWorkers: 1, maxWorkers: 1 })
        assert.strictEqual(yield* pool.run(Work, 41), 41)
      }))

    it.live("a second serve in one worker fails the boot with WorkerBootFailed saying why", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Effect.scoped(WorkerPool.make({ entry: fixture("serves-twice.ts"), mode, maxBootFailures: 1 }))
        )
        assert.include(String((bootError(exit).cause as Error).message), "already serves a group")
      }))
  })
}

const eventuallyStats = (
  pool: WorkerPool.WorkerPool["Service"],
  check: (stats: WorkerPool.PoolStats) => boolean
): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (!check(yield* pool.stats)) yield* Effect.sleep("10 millis")
  })
