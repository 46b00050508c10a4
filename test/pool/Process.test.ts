// Child-process mode: the same API, with workers in their own processes.
import { assert, describe, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import { WorkerBootFailed, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Defect, Exit as ExitTask, Fib, FibTooBig, Hog, Inc, Sleep, Spin, Sum, WhoAmI } from "./fixtures/tasks.ts"
import { eventually, fixture, processAlive, workerEntry } from "./helpers.ts"

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

/**
 * Runs `effect` with this process's stderr captured, until the child's out-of-memory report is complete (its
 * native stack ends the report, and the lines come in several chunks): none of it reaches the test log.
 */
const capturingStderr = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const chunks: Array<string> = []
      const write = process.stderr.write
      process.stderr.write = ((chunk: string | Uint8Array) => {
        chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString())
        return true
      }) as typeof process.stderr.write
      return { chunks, write }
    }),
    ({ chunks }) =>
      Effect.gen(function*() {
        const exit = yield* effect
        yield* eventually(Effect.sync(() => chunks.join("").includes("Native stack trace")))
        // The rest of the stack arrives right behind its heading.
        yield* Effect.sleep("200 millis")
        return { chunks, exit }
      }),
    ({ write }) => Effect.sync(() => void (process.stderr.write = write))
  )

layer(
  WorkerPool.layer({
    entry: workerEntry,
    mode: "process",
    minWorkers: 1,
    maxWorkers: 1,
    // Generous: under load an acknowledgement can take a while, and this spec tells the two outcomes apart.
    terminationGrace: 1_000,
    resourceLimits: { maxOldGenerationSizeMb: 32 }
  }),
  { excludeTestServices: true }
)("process mode", (it) => {
  it.effect("runs typed tasks in another process, with typed errors and defects intact", () =>
    Effect.gen(function*() {
      const who = yield* WorkerPool.run(WhoAmI)
      assert.notStrictEqual(who.pid, process.pid)
      assert.strictEqual(yield* WorkerPool.run(Inc, 1), 2)
      assert.instanceOf(errorOf(yield* Effect.exit(WorkerPool.run(Fib, 40))), FibTooBig)
      const defect = yield* Effect.exit(WorkerPool.run(Defect, "boom in a process"))
      assert.isTrue(Exit.isFailure(defect) && Cause.hasDies(defect.cause))
      assert.strictEqual(yield* WorkerPool.offload((a: number) => a * 2, [21]), 42)
    }))

  it.effect("buffers are copied to processes (the sender keeps them)", () =>
    Effect.gen(function*() {
      const data = new Float64Array(100).fill(1)
      assert.strictEqual((yield* WorkerPool.run(Sum, data)).sum, 100)
      assert.strictEqual(data.byteLength, 800)
    }))

  it.effect("a process that exits fails its calls with WorkerCrashed and is replaced", () =>
    Effect.gen(function*() {
      const before = yield* WorkerPool.run(WhoAmI)
      const crash = errorOf(yield* Effect.exit(WorkerPool.run(ExitTask, { code: 4, delayMillis: 10 })))
      assert.instanceOf(crash, WorkerCrashed)
      assert.strictEqual((crash as WorkerCrashed).exitCode, 4)
      assert.strictEqual((crash as WorkerCrashed).reason, "exit")
      const after = yield* WorkerPool.run(WhoAmI)
      assert.notStrictEqual(after.pid, before.pid)
      assert.isFalse(processAlive(before.pid))
    }))

  it.effect("out of memory is reported as such", () =>
    Effect.gen(function*() {
      // The child's V8 prints its heap report and a native stack on its stderr, which the pool forwards to
      // ours: captured here, so that it does not read as a failure in the test log, and checked.
      const { chunks, exit } = yield* capturingStderr(Effect.exit(WorkerPool.run(Hog)))
      const crash = errorOf(exit)
      assert.instanceOf(crash, WorkerCrashed)
      assert.strictEqual((crash as WorkerCrashed).reason, "out-of-memory")
      assert.include(chunks.join(""), "FATAL ERROR: Reached heap limit")
    }))

  it.effect("timeouts interrupt cooperatively, and a call that never yields gets its process killed", () =>
    Effect.gen(function*() {
      const before = yield* WorkerPool.run(WhoAmI)
      errorOf(yield* Effect.exit(WorkerPool.run(Sleep, 60_000, { timeout: 50 })))
      yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.inFlight === 0)))
      const same = yield* WorkerPool.run(WhoAmI)
      assert.strictEqual(same.pid, before.pid)
      assert.strictEqual(same.interrupted, before.interrupted + 1)
      errorOf(yield* Effect.exit(WorkerPool.run(Spin, true, { timeout: 50 })))
      const replaced = yield* WorkerPool.run(WhoAmI)
      assert.notStrictEqual(replaced.pid, before.pid)
    }))
})

describe("process mode lifecycle", () => {
  layer(WorkerPool.layer({ mode: "process", maxWorkers: 1 }), { excludeTestServices: true })(
    "boot and shutdown",
    (it) => {
      it.effect("a process that fails at import fails the pool with the worker's own error", () =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(
            Effect.scoped(WorkerPool.make({ entry: fixture("boot-throws.ts"), mode: "process", maxBootFailures: 1 }))
          )
          const error = errorOf(exit)
          assert.instanceOf(error, WorkerBootFailed)
          assert.strictEqual(((error as WorkerBootFailed).cause as Error).message, "the worker's own boot error")
        }))

      it.effect("no worker process outlives the pool's scope", () =>
        Effect.gen(function*() {
          const pid = yield* Effect.scoped(Effect.gen(function*() {
            const pool = yield* WorkerPool.make({ entry: workerEntry, mode: "process", maxWorkers: 1 })
            return (yield* pool.run(WhoAmI)).pid
          }))
          assert.isFalse(processAlive(pid))
        }))
    }
  )
})
