// TurnBatch: work added in one turn of the event loop starts together at its end, in order.
import { assert, describe, it } from "@effect/vitest"
import { TurnBatch } from "../../src/runtime/distributed/TurnBatch.ts"

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe("TurnBatch", () => {
  it("starts what is added in one turn together at its end, in order, not before", async () => {
    const batch = new TurnBatch()
    const log: Array<string> = []
    batch.add(() => log.push("a"), () => log.push("fail a"))
    await Promise.resolve()
    batch.add(() => log.push("b"), () => log.push("fail b"))
    // Microtasks run before the batch: a promise chain still catching up joins it.
    queueMicrotask(() => batch.add(() => log.push("c"), () => log.push("fail c")))
    assert.strictEqual(batch.size, 2)
    assert.deepStrictEqual(log, [])
    await nextTurn()
    assert.deepStrictEqual(log, ["a", "b", "c"])
    assert.strictEqual(batch.size, 0)
  })

  it("a start that throws goes to its own fail; the others still start", async () => {
    const batch = new TurnBatch()
    const log: Array<string> = []
    const boom = new Error("boom")
    batch.add(() => log.push("a"), () => log.push("fail a"))
    batch.add(() => {
      throw boom
    }, (error) => log.push(error === boom ? "fail b" : "wrong error"))
    batch.add(() => log.push("c"), () => log.push("fail c"))
    await nextTurn()
    assert.deepStrictEqual(log, ["a", "fail b", "c"])
  })

  it("what a start adds waits for the next turn's batch", async () => {
    const batch = new TurnBatch()
    const log: Array<string> = []
    batch.add(() => {
      log.push("a")
      batch.add(() => log.push("later"), () => log.push("fail later"))
    }, () => log.push("fail a"))
    await nextTurn()
    assert.deepStrictEqual(log, ["a"])
    assert.strictEqual(batch.size, 1)
    await nextTurn()
    assert.deepStrictEqual(log, ["a", "later"])
  })
})
