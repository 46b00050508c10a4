// BulkAdd: a large batch goes to BullMQ in chunks, one per turn of the event loop, in order; a failed chunk
// stops the rest and is the result.
import { assert, describe, it } from "@effect/vitest"
import { addInChunks, chunkSize } from "../../src/runtime/distributed/BulkAdd.ts"

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("BulkAdd", () => {
  it("a batch of at most one chunk is one call", async () => {
    const calls: Array<Array<number>> = []
    const out = await addInChunks(range(chunkSize), async (chunk) => {
      calls.push(chunk)
      return chunk.map((n) => n * 2)
    })
    assert.strictEqual(calls.length, 1)
    assert.strictEqual(calls[0]!.length, chunkSize)
    assert.deepStrictEqual(out, range(chunkSize).map((n) => n * 2))
  })

  it("larger batches: chunks of `size`, one per turn, results in the jobs' order", async () => {
    const calls: Array<Array<number>> = []
    const pending = addInChunks(range(1_234), (chunk) => {
      calls.push(chunk)
      // Later chunks answer first: the results still come back in the jobs' order.
      return new Promise<Array<string>>((resolve) =>
        setTimeout(() => resolve(chunk.map((n) => `#${n}`)), 30 - calls.length * 10)
      )
    }, { size: 500 })
    // The next chunk is built only after a turn, once this one has been handed over.
    assert.strictEqual(calls.length, 1)
    await nextTurn()
    assert.strictEqual(calls.length, 2)
    const out = await pending
    assert.deepStrictEqual(calls.map((c) => c.length), [500, 500, 234])
    assert.deepStrictEqual(calls.flat(), range(1_234))
    assert.deepStrictEqual(out, range(1_234).map((n) => `#${n}`))
  })

  it("a failed chunk: no chunk after it is sent, its error is the result, nothing unhandled", async () => {
    const calls: Array<number> = []
    const boom = new Error("connection lost")
    const exit = await addInChunks(range(2_000), (chunk) => {
      calls.push(chunk[0]!)
      return calls.length === 2 ? Promise.reject(boom) : Promise.resolve(chunk)
    }, { size: 500 }).then(() => "resolved", (error) => error)
    assert.strictEqual(exit, boom)
    assert.deepStrictEqual(calls, [0, 500])
  })

  it("a chunk that fails after the last was sent still fails the whole", async () => {
    const boom = new Error("late")
    const exit = await addInChunks(range(1_000), (chunk) =>
      chunk[0] === 0
        ? new Promise<Array<number>>((_, reject) => setTimeout(() => reject(boom), 20))
        : Promise.resolve(chunk), { size: 500 }).then(() => "resolved", (error) => error)
    assert.strictEqual(exit, boom)
  })

  it("an abort (the caller interrupted) sends no chunk after it and rejects with its reason", async () => {
    const calls: Array<number> = []
    const controller = new AbortController()
    const reason = new Error("interrupted")
    const exit = await addInChunks(range(2_000), (chunk) => {
      calls.push(chunk[0]!)
      if (calls.length === 2) controller.abort(reason)
      return Promise.resolve(chunk)
    }, { size: 500, signal: controller.signal }).then(() => "resolved", (error) => error)
    assert.strictEqual(exit, reason)
    assert.deepStrictEqual(calls, [0, 500])
  })
})
