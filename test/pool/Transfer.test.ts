// Transferables: buffers are moved (not copied) for tasks defined with `transfer: true`.
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Fill, Sum } from "./fixtures/tasks.ts"
import { workerEntry } from "./helpers.ts"

layer(WorkerPool.WorkerPool.layer({ entry: workerEntry, minWorkers: 1, maxWorkers: 1 }), {
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

  describe("without transfer", () => {
    it.effect("offloaded arguments are copied: the sender keeps its data", () =>
      Effect.gen(function*() {
        const data = new Float64Array(1000).fill(2)
        const sum = yield* WorkerPool.offload((xs: Float64Array) => xs.reduce((a, b) => a + b, 0), data)
        assert.strictEqual(sum, 2000)
        assert.strictEqual(data.byteLength, 8000)
      }))
  })
})
