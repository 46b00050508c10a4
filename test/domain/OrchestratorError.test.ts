import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  CircuitOpen,
  InvalidConfig,
  OrchestratorError,
  PayloadInvalid,
  PoolShutDown,
  QueueFull,
  TaskCancelled,
  TaskTimeout,
  UnknownTask,
  WorkerBootFailed,
  WorkerCrashed
} from "../../src/index.ts"

// What a thread or process boundary does to an error: encode, structured clone, decode.
const acrossBoundary = (error: OrchestratorError.OrchestratorError): unknown => {
  const encoded = Schema.encodeUnknownSync(OrchestratorError.OrchestratorError)(error)
  return Schema.decodeUnknownSync(OrchestratorError.OrchestratorError)(structuredClone(encoded))
}

const samples: ReadonlyArray<OrchestratorError.OrchestratorError> = [
  new TaskTimeout({ taskId: "t-1", taskName: "resize", timeoutMillis: 250 }),
  new TaskCancelled({ taskId: "t-2", taskName: "resize", reason: "caller interrupted" }),
  new QueueFull({ capacity: 10, priority: "low" }),
  new WorkerCrashed({ workerId: 3, exitCode: 7, signal: null, reason: "exit", detail: "process.exit(7)" }),
  new WorkerBootFailed({ workerId: 1, attempts: 3, cause: new TypeError("cannot import ./missing.ts") }),
  new UnknownTask({ taskName: "nope", known: ["fib", "sum"] }),
  new PayloadInvalid({ taskName: "fib", reason: "schema", detail: "Expected number, got \"x\"" }),
  new PoolShutDown({ service: "WorkerPool" }),
  new InvalidConfig({ field: "pool.maxWorkers", value: "-1", detail: "Expected a value >= 1" }),
  new CircuitOpen({ key: "payments", retryAfterMillis: 1500 })
]

describe("OrchestratorError", () => {
  it("every error crosses a boundary as the same class with the same fields", () => {
    for (const error of samples) {
      const back = acrossBoundary(error)
      assert.instanceOf(back, error.constructor as new(...args: Array<any>) => unknown)
      assert.instanceOf(back, Error)
      assert.strictEqual((back as typeof error)._tag, error._tag)
      assert.strictEqual((back as typeof error).message, error.message)
    }
  })

  it("WorkerBootFailed keeps the worker's own error, with message, name and stack", () => {
    const inner = new TypeError("cannot import ./missing.ts")
    const back = acrossBoundary(new WorkerBootFailed({ workerId: 1, attempts: 2, cause: inner })) as WorkerBootFailed
    assert.instanceOf(back.cause, Error)
    const cause = back.cause as Error
    assert.strictEqual(cause.message, inner.message)
    assert.strictEqual(cause.name, "TypeError")
    assert.strictEqual(cause.stack, inner.stack)
    assert.include(back.message, "cannot import ./missing.ts")
  })

  it("messages name what went wrong", () => {
    assert.include(samples[0]!.message, "250 ms")
    assert.include(samples[3]!.message, "exit code 7")
    assert.include(
      new WorkerCrashed({ workerId: 1, exitCode: null, signal: "SIGKILL", reason: "terminated", detail: "" }).message,
      "SIGKILL"
    )
    assert.include(samples[5]!.message, "fib, sum")
    assert.include(samples[8]!.message, "pool.maxWorkers = -1")
  })

  it("rejects malformed encoded errors", () => {
    const decode = Schema.decodeUnknownSync(OrchestratorError.OrchestratorError)
    assert.throws(() => decode({ _tag: "TaskTimeout", taskId: "x" }))
    assert.throws(() =>
      decode({ _tag: "WorkerCrashed", workerId: 1, exitCode: 1, signal: null, reason: "bored", detail: "" })
    )
    assert.throws(() => decode({ _tag: "Nope" }))
  })

  it.effect("errors are yieldable and matched by tag", () =>
    Effect.gen(function*() {
      const recovered = yield* Effect.fail(new QueueFull({ capacity: 1, priority: "high" })).pipe(
        Effect.catchTag("QueueFull", (e) => Effect.succeed(e.capacity))
      )
      assert.strictEqual(recovered, 1)
    }))
})
