// `niceIncrement`: workers lower their own OS scheduling priority, so that the event loop gets a core first.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as fs from "node:fs"
import { InvalidConfig } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { currentThreadId, lowerPriority } from "../../src/runtime/worker/SchedulingPriority.ts"

/** The nice value of the calling thread, from procfs (field 19 of its stat line); self-contained for `offload`. */
function niceOfThisThread(): number {
  const stat = process.getBuiltinModule("node:fs").readFileSync("/proc/thread-self/stat", "latin1")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])
}

const niceOf = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])
}

const linux = process.platform === "linux"

const invalidField = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" && error.value instanceof InvalidConfig ? error.value.field : undefined
}

describe("niceIncrement", () => {
  it.live.runIf(linux)(
    "thread workers run at a higher nice value than the main thread, which keeps its own",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const main = niceOfThisThread()
        const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1, niceIncrement: 5 })
        const worker = yield* pool.offload(niceOfThisThread, [])
        assert.strictEqual(worker, Math.min(19, main + 5))
        assert.strictEqual(niceOfThisThread(), main, "the main thread is not reniced")
        assert.strictEqual(niceOf(process.pid), main, "nor the process")
      })),
    30_000
  )

  it.live.runIf(linux)(
    "without it, workers keep the main thread's nice value",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1 })
        assert.strictEqual(yield* pool.offload(niceOfThisThread, []), niceOfThisThread())
      })),
    30_000
  )

  it.live.runIf(linux)("child-process workers renice their process", () =>
    Effect.scoped(Effect.gen(function*() {
      const main = niceOfThisThread()
      const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1, mode: "process", niceIncrement: 3 })
      const pid = yield* pool.offload(() => process.pid, [])
      assert.notStrictEqual(pid, process.pid)
      assert.strictEqual(niceOf(pid), Math.min(19, main + 3))
    })), 30_000)

  it.live("values outside 0..19, or not whole, fail with InvalidConfig naming the field", () =>
    Effect.gen(function*() {
      for (const niceIncrement of [-1, 20, 1.5, Number.NaN]) {
        const exit = yield* Effect.exit(Effect.scoped(WorkerPool.make({ niceIncrement })))
        assert.strictEqual(invalidField(exit), "pool.niceIncrement", `niceIncrement ${niceIncrement}`)
      }
    }))

  it.runIf(linux)("a thread's id comes from procfs: the main thread's is the process id", () => {
    assert.strictEqual(currentThreadId(), process.pid)
  })

  it("an increment of 0 changes nothing", () => {
    assert.isUndefined(lowerPriority(0, "thread"))
    assert.isUndefined(lowerPriority(0, "process"))
  })
})
