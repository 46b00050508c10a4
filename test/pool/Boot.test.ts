// The boot check: workers that cannot start fail the layer with their own error, and a pool whose
// replacements cannot start stops respawning and fails fast.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WorkerBootFailed, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Exit as ExitTask, Inc, Sleep } from "./fixtures/tasks.ts"
import { eventually, fixture } from "./helpers.ts"

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

const buildLayer = (options: WorkerPool.Options) => Effect.exit(Effect.scoped(Layer.build(WorkerPool.layer(options))))

describe("boot check", () => {
  it.live("a worker that throws at import fails the layer with WorkerBootFailed carrying that error", () =>
    Effect.gen(function*() {
      const error = errorOf(yield* buildLayer({ entry: fixture("boot-throws.ts"), maxBootFailures: 2 }))
      assert.instanceOf(error, WorkerBootFailed)
      const boot = error as WorkerBootFailed
      assert.strictEqual(boot.attempts, 2, "it retried up to maxBootFailures")
      assert.instanceOf(boot.cause, Error)
      assert.strictEqual((boot.cause as Error).name, "SyntaxError")
      assert.strictEqual((boot.cause as Error).message, "the worker's own boot error")
      assert.include((boot.cause as Error).stack, "boot-throws.ts")
      assert.include(boot.message, "the worker's own boot error")
    }))

  it.live("an entry that never calls serve() is a boot failure that says so", () =>
    Effect.gen(function*() {
      const error = errorOf(yield* buildLayer({ entry: fixture("never-serves.ts"), maxBootFailures: 1 }))
      assert.instanceOf(error, WorkerBootFailed)
      assert.include(((error as WorkerBootFailed).cause as Error).message, "before it was ready")
    }))

  it.live("an entry that hangs at boot fails after bootTimeout", () =>
    Effect.gen(function*() {
      const error = errorOf(
        yield* buildLayer({ entry: fixture("hangs-at-boot.ts"), maxBootFailures: 1, bootTimeout: 200 })
      )
      assert.instanceOf(error, WorkerBootFailed)
      assert.include(((error as WorkerBootFailed).cause as Error).message, "did not become ready within 200 ms")
    }))

  it.live("a missing entry file is a boot failure with Node's own error", () =>
    Effect.gen(function*() {
      const error = errorOf(yield* buildLayer({ entry: fixture("does-not-exist.ts"), maxBootFailures: 1 }))
      assert.instanceOf(error, WorkerBootFailed)
      assert.include(String(((error as WorkerBootFailed).cause as Error).message), "does-not-exist.ts")
    }))

  it.live(
    "when replacements keep failing to boot and no worker is up, calls fail fast with WorkerBootFailed; the pool keeps trying and comes back",
    () =>
      Effect.gen(function*() {
        const marker = path.join(os.tmpdir(), `flaky-boot-${process.pid}-${Date.now()}`)
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(marker, { force: true })))
        const pool = yield* WorkerPool.make({
          entry: fixture("flaky-boot.ts"),
          env: { FLAKY_BOOT_MARKER: marker },
          minWorkers: 1,
          maxWorkers: 1,
          concurrentTasksPerWorker: 1,
          maxBootFailures: 2
        })
        assert.strictEqual(yield* pool.run(Inc, 1), 2)
        fs.writeFileSync(marker, "")
        const busy = yield* Effect.forkChild(Effect.exit(pool.run(ExitTask, { code: 9, delayMillis: 50 })))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
        const waiting = yield* Effect.forkChild(Effect.exit(pool.run(Sleep, 1)))
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.queued === 1)))

        assert.instanceOf(errorOf(yield* Fiber.join(busy)), WorkerCrashed)
        const queuedError = errorOf(yield* Fiber.join(waiting))
        assert.instanceOf(queuedError, WorkerBootFailed)
        assert.strictEqual((queuedError as WorkerBootFailed).attempts, 2)
        assert.include(((queuedError as WorkerBootFailed).cause as Error).message, "refusing to boot")

        const fast = errorOf(yield* Effect.exit(pool.run(Inc, 2)))
        assert.instanceOf(fast, WorkerBootFailed, "no worker can serve it: it fails at once")
        const during = yield* pool.stats
        assert.isAtLeast(during.bootFailures, 2)
        assert.include(during.lastBootError, "refusing to boot")
        // It keeps trying, with backoff, and serves again once the cause is gone.
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.spawned >= during.spawned + 1)))
        fs.rmSync(marker)
        yield* eventually(pool.stats.pipe(Effect.map((s) => s.workers === 1 && s.booting === 0)))
        assert.strictEqual(yield* pool.run(Inc, 3), 4)
      })
  )
})
