import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { Task, TaskResult } from "../../src/index.ts"

describe("Task", () => {
  it("make applies defaults", () => {
    const task = Task.make(Effect.succeed(1))
    assert.strictEqual(task.name, "task")
    assert.strictEqual(task.priority, "normal")
    assert.strictEqual(task.kind, "io")
    assert.isUndefined(task.timeout)
    assert.isUndefined(task.retry)
    assert.isUndefined(task.key)
  })

  it("make keeps the given metadata", () => {
    const task = Task.make(Effect.succeed(1), {
      id: "job-7",
      name: "resize",
      priority: "critical",
      kind: "cpu",
      timeout: "2 seconds",
      retry: { maximumAttempts: 5 },
      key: "tenant-a"
    })
    assert.strictEqual(task.id, "job-7")
    assert.strictEqual(task.priority, "critical")
    assert.strictEqual(task.kind, "cpu")
    assert.strictEqual(task.timeout, "2 seconds")
    assert.deepStrictEqual(task.retry, { maximumAttempts: 5 })
    assert.strictEqual(task.key, "tenant-a")
  })

  it("ids are unique", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => Task.make(Effect.void, { name: "x" }).id))
    assert.strictEqual(ids.size, 1000)
  })
})

describe("TaskResult", () => {
  // The JSON codec is what crosses a boundary: an Exit's prototype would not survive a structured clone.
  const Result = Schema.toCodecJson(TaskResult.schema(Schema.Number, Schema.String))
  const timings = {
    taskId: "t-1",
    name: "fib",
    priority: "high" as const,
    kind: "cpu" as const,
    enqueuedAt: 1000,
    startedAt: 1010,
    finishedAt: 1050,
    queueWaitMillis: 10,
    runMillis: 40,
    attempts: 2,
    workerId: 3
  }

  it("round-trips a success and a failure through a structured clone", () => {
    for (const exit of [Exit.succeed(42), Exit.fail("boom")]) {
      const encoded = Schema.encodeUnknownSync(Result)({ ...timings, exit })
      const decoded = Schema.decodeUnknownSync(Result)(structuredClone(encoded))
      assert.deepStrictEqual({ ...decoded, exit: undefined }, { ...timings, exit: undefined })
      assert.strictEqual(Exit.isSuccess(decoded.exit), Exit.isSuccess(exit))
    }
  })

  it("rejects a result with a fractional attempt count or a bad priority", () => {
    const decode = Schema.decodeUnknownSync(TaskResult.TaskTimings)
    assert.throws(() => decode({ ...timings, attempts: 1.5 }))
    assert.throws(() => decode({ ...timings, priority: "urgent" }))
    assert.doesNotThrow(() => decode(timings))
  })
})
