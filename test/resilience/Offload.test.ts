// Retries of offloaded tasks on real worker threads: a crashed worker and a hung call are retried by policy.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { TaskTimeout, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import * as Retry from "../../src/runtime/resilience/Retry.ts"

describe("Retry of offloaded tasks (real workers)", () => {
  it.live("a worker that crashes is retried on its replacement", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1 })
      const seen: Array<string> = []
      let calls = 0
      const task = Effect.suspend(() => {
        calls++
        return pool.offload((crash: boolean) => {
          if (crash) process.exit(3)
          return 42
        }, [calls === 1])
      }).pipe(Effect.tapError((e) => Effect.sync(() => seen.push(e._tag))))
      const { attempts, exit } = yield* Retry.retryCounted(task, { initialInterval: 10, maximumAttempts: 3 })
      assert.deepStrictEqual(exit, Exit.succeed(42))
      assert.strictEqual(attempts, 2)
      assert.deepStrictEqual(seen, ["WorkerCrashed"])
    }), { timeout: 30_000 })

  it.live("a crash is final when the policy lists WorkerCrashed as non-retryable", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1 })
      const task = pool.offload(() => process.exit(4), [])
      const { attempts, exit } = yield* Retry.retryCounted(task, {
        maximumAttempts: 3,
        nonRetryable: ["WorkerCrashed"]
      })
      assert.strictEqual(attempts, 1)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.isTrue(error?._tag === "Some" && error.value instanceof WorkerCrashed)
    }), { timeout: 30_000 })

  it.live("a hung offloaded call times out per attempt and is retried", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ minWorkers: 1, maxWorkers: 1 })
      const seen: Array<unknown> = []
      let calls = 0
      const task = Effect.suspend(() => {
        calls++
        return pool.offload((hang: boolean) => hang ? new Promise<number>(() => {}) : 7, [calls === 1])
      })
      const { attempts, exit } = yield* Retry.retryCounted(
        task,
        { initialInterval: 10, maximumAttempts: 2, attemptTimeout: 300 },
        {
          taskId: "hang-1",
          taskName: "hang",
          isRetryable: (error) => {
            seen.push(error)
            return true
          }
        }
      )
      assert.deepStrictEqual(exit, Exit.succeed(7))
      assert.strictEqual(attempts, 2)
      assert.deepStrictEqual(seen, [new TaskTimeout({ taskId: "hang-1", taskName: "hang", timeoutMillis: 300 })])
    }), { timeout: 30_000 })
})
