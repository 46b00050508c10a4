// Transferables: buffers are moved (not copied) for tasks defined with `transfer: true`.
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Echo, Fill, Keep, KeepCopy, Kept, Sum } from "./fixtures/tasks.ts"
import { teach, workerEntry } from "./helpers.ts"

/** Sums its array after a timer, so that it reads the array after the calls sent with it have answered. */
async function lateSum(xs: Float64Array): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20))
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += xs[i]!
  return sum
}

layer(WorkerPool.layer({ entry: workerEntry, minWorkers: 1, maxWorkers: 1 }), {
  excludeTestServices: true
})("transferables", (it) => {
  describe("transfer: true", () => {
    it.effect("moves the payload's buffer to the worker: the sender's copy is detached", () =>
      Effect.gen(function*() {
        const data = new Float64Array(1024 * 128).fill(0.5) // 1 MiB
        const result = yield* WorkerPool.run(Sum, data)
        assert.strictEqual(result.sum, 1024 * 128 * 0.5)
        assert.strictEqual(result.byteLength, 1024 * 1024, "the worker received the whole buffer")
        assert.strictEqual(data.byteLength, 0, "moved, not copied")
      }))

    it.effect("moves the worker's result buffer back", () =>
      Effect.gen(function*() {
        const filled = yield* WorkerPool.run(Fill, { length: 1000, value: 7 })
        assert.instanceOf(filled, Float64Array)
        assert.strictEqual(filled.length, 1000)
        assert.isTrue(filled.every((x) => x === 7))
      }))

    it.effect("a view on part of a larger buffer is copied, never detaching the rest", () =>
      Effect.gen(function*() {
        const backing = new ArrayBuffer(8 * 100)
        const view = new Float64Array(backing, 8 * 10, 10).fill(1)
        const result = yield* WorkerPool.run(Sum, view)
        assert.strictEqual(result.sum, 10)
        assert.strictEqual(view.byteLength, 80)
        assert.strictEqual(backing.byteLength, 800)
      }))
  })

  describe("releasePayload: true", () => {
    it.effect("frees the payload's buffers in the worker once the call has answered", () =>
      Effect.gen(function*() {
        const data = new Float64Array(1024 * 128).fill(1)
        assert.strictEqual(yield* WorkerPool.run(Keep, data), 1024 * 1024, "the handler saw the whole array")
        assert.strictEqual(yield* WorkerPool.run(Kept), 0, "freed after the answer")
      }))

    it.effect("without it, the worker's copy lives on (until its garbage collector frees it)", () =>
      Effect.gen(function*() {
        yield* WorkerPool.run(KeepCopy, new Float64Array(1024 * 128).fill(1))
        assert.strictEqual(yield* WorkerPool.run(Kept), 1024 * 1024)
      }))

    it.effect("a payload array returned as the answer comes back whole", () =>
      Effect.gen(function*() {
        const echoed = yield* WorkerPool.run(Echo, { data: new Float64Array(1000).fill(3), head: -1 })
        assert.strictEqual(echoed.length, 1000)
        assert.isTrue(echoed.every((x) => x === 3))
      }))

    it.effect("a view on the payload returned as the answer is sent before the payload is freed", () =>
      Effect.gen(function*() {
        const echoed = yield* WorkerPool.run(Echo, { data: new Float64Array(1000).fill(3), head: 10 })
        assert.deepStrictEqual(Array.from(echoed), Array.from({ length: 10 }, () => 3))
      }))

    it.effect("a buffer that another call sent in the same message also uses is not freed under it", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.WorkerPool
        // Both tasks known to be light, so that the second call joins the first one's message.
        yield* teach(Effect.suspend(() => pool.run(Keep, new Float64Array(8))))
        yield* teach(pool.offload(lateSum, [new Float64Array(8)]))
        const data = new Float64Array(1024).fill(2)
        const [keep, late] = yield* Effect.sync(() =>
          [
            Effect.runFork(pool.run(Keep, data)),
            Effect.runFork(pool.offload(lateSum, [data]))
          ] as const
        )
        assert.strictEqual(yield* Fiber.join(keep), 8 * 1024)
        assert.strictEqual(yield* Fiber.join(late), 2 * 1024, "the other call still read the whole array")
      }))
  })

  describe("without transfer", () => {
    it.effect("offloaded arguments are copied: the sender keeps its data", () =>
      Effect.gen(function*() {
        const data = new Float64Array(1000).fill(2)
        const sum = yield* WorkerPool.offload((xs: Float64Array) => xs.reduce((a, b) => a + b, 0), [data])
        assert.strictEqual(sum, 2000)
        assert.strictEqual(data.byteLength, 8000)
      }))
  })
})
