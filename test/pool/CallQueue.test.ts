// The pool's queue of calls (priority, fairness, capacity, put-back) and the calls that use it.
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Call, TaskStats } from "../../src/runtime/pool/Call.ts"
import { CallQueue } from "../../src/runtime/pool/CallQueue.ts"
import { serve } from "../../src/runtime/worker/Server.ts"

let nextId = 1
const canceller = { cancel: () => undefined }
const call = (name: string, priority = 2, key?: string): Call => {
  const route = { stats: new TaskStats(name), index: 0, success: undefined, error: undefined, canceller }
  const made = new Call(nextId++, route, priority, undefined, 0, () => undefined, performance.now())
  made.key = key
  return made
}

const drain = (queue: CallQueue): Array<string> => {
  const out: Array<string> = []
  for (let next = queue.peek(); next !== undefined; next = queue.peek()) {
    queue.take(next)
    out.push(next.name)
  }
  return out
}

describe("CallQueue", () => {
  it("without priorities it is FIFO", () => {
    const queue = new CallQueue()
    for (const name of ["a", "b", "c"]) queue.push(call(name))
    assert.strictEqual(queue.size, 3)
    assert.deepStrictEqual(drain(queue), ["a", "b", "c"])
    assert.strictEqual(queue.size, 0)
  })

  it("serves the most urgent level first, FIFO within a level, and peek leaves the call in place", () => {
    const queue = new CallQueue()
    queue.push(call("low-1", 3))
    queue.push(call("normal-1"))
    queue.push(call("critical-1", 0))
    queue.push(call("low-2", 3))
    queue.push(call("critical-2", 0))
    assert.strictEqual(queue.peek()!.name, "critical-1")
    assert.strictEqual(queue.peek()!.name, "critical-1")
    assert.deepStrictEqual(queue.depth().slice(0, 4), [2, 0, 1, 2])
    assert.deepStrictEqual(drain(queue), ["critical-1", "critical-2", "normal-1", "low-1", "low-2"])
  })

  it("fairness keys take turns within a level", () => {
    const queue = new CallQueue()
    for (const name of ["a1", "a2", "a3"]) queue.push(call(name, 2, "a"))
    for (const name of ["b1", "b2"]) queue.push(call(name, 2, "b"))
    assert.deepStrictEqual(drain(queue), ["a1", "b1", "a2", "b2", "a3"])
  })

  it("a removed call is unlinked at once and never served", () => {
    const queue = new CallQueue()
    const calls = ["a", "b", "c"].map((name) => call(name))
    for (const c of calls) queue.push(c)
    queue.remove(calls[1]!)
    assert.strictEqual(queue.size, 2)
    assert.deepStrictEqual(drain(queue), ["a", "c"])
  })

  it("calls put back go first, in their order, and can be removed too", () => {
    const queue = new CallQueue()
    queue.push(call("critical", 0))
    const back = [call("back-1", 3), call("back-2", 3), call("back-3", 3)]
    queue.unshift(back)
    queue.remove(back[1]!)
    assert.strictEqual(queue.size, 3)
    assert.deepStrictEqual(drain(queue), ["back-1", "back-3", "critical"])
  })

  it("at capacity, overflow fail refuses the call; suspend holds it and lets it in when there is room", () => {
    const failing = new CallQueue({ capacity: 2, overflow: "fail" })
    assert.isTrue(failing.push(call("a")))
    assert.isTrue(failing.push(call("b")))
    assert.isFalse(failing.push(call("c")))
    assert.strictEqual(failing.size, 2)

    const holding = new CallQueue({ capacity: 2 })
    holding.push(call("low", 3))
    holding.push(call("normal"))
    // held: they wait for room, even the critical one, and enter in arrival order
    holding.push(call("held-normal"))
    holding.push(call("held-critical", 0))
    assert.strictEqual(holding.size, 4)
    assert.strictEqual(holding.depth()[4], 2)
    const first = holding.peek()!
    assert.strictEqual(first.name, "normal")
    holding.take(first)
    // room for one: the oldest held call enters its level; once in, its priority counts
    assert.strictEqual(holding.depth()[4], 1)
    assert.deepStrictEqual(drain(holding), ["held-normal", "held-critical", "low"])
  })

  it("drain empties everything, put-back and held calls included", () => {
    const queue = new CallQueue({ capacity: 1 })
    queue.push(call("a"))
    queue.push(call("held"))
    queue.unshift([call("back")])
    assert.deepStrictEqual(queue.drain().map((c) => c.name).sort(), ["a", "back", "held"])
    assert.strictEqual(queue.size, 0)
    assert.strictEqual(queue.peek(), undefined)
  })
})

// One worker that runs one call at a time, so that calls queue in the pool.
const Step = WorkerTask.make("step", { payload: Schema.String, success: Schema.String })
const order: Array<string> = []
const served = serve(WorkerTask.group(Step), { step: (label) => Effect.sync(() => (order.push(label), label)) })

layer(
  WorkerPool.layerTest(served, { concurrentTasksPerWorker: 1, queue: { capacity: 3, overflow: "fail" } }),
  {
    excludeTestServices: true
  }
)("WorkerPool calls with priorities", (it) => {
  it.effect("a call's priority orders it in the pool's queue; past the capacity it fails with QueueFull", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      order.length = 0
      const fiber = yield* Effect.forkChild(
        Effect.all([
          pool.run(Step, "first"),
          pool.run(Step, "low", { priority: "low" }),
          pool.run(Step, "normal"),
          pool.run(Step, "critical", { priority: "critical" }),
          Effect.exit(pool.run(Step, "over capacity", { priority: "critical" }))
        ], { concurrency: "unbounded" })
      )
      const [, , , , over] = yield* Fiber.join(fiber)
      assert.deepStrictEqual(order, ["first", "critical", "normal", "low"])
      assert.isTrue(Exit.isFailure(over))
      const stats = yield* pool.stats
      assert.strictEqual(stats.rejectedFull, 1)
      assert.strictEqual(stats.queued, 0)
    }))

  it.effect("a bad priority is InvalidConfig naming it, and nothing is sent", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      const error = yield* Effect.flip(pool.run(Step, "x", { priority: "urgent" as never }))
      assert.strictEqual(error._tag, "InvalidConfig")
      assert.strictEqual(error._tag === "InvalidConfig" && error.field, "priority")
    }))

  it.effect("offloadEach maps a function over items in one call, in order, in strict mode", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.WorkerPool
      assert.deepStrictEqual(yield* pool.offloadEach((x: number) => x * 2, [1, 2, 3]), [2, 4, 6])
      assert.deepStrictEqual(yield* pool.offloadEach(async (x: number) => x + 1, [1, 2]), [2, 3])
      // Sloppy mode would create a global; the shared compiler runs every function in strict mode.
      const error = yield* Effect.flip(pool.offloadEach((x: number) => {
        // @ts-expect-error an undeclared variable, on purpose
        leaked = x
        return x
      }, [1]))
      assert.strictEqual(error._tag, "PayloadInvalid")
      assert.isUndefined((globalThis as { leaked?: unknown }).leaked)
    }))
})
