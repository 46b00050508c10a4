// RecentMap: a bounded map that forgets the oldest insertion first, exactly as a `Map` evicting its first key.
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { RecentMap } from "../../src/runtime/distributed/RecentMap.ts"

type Op = { readonly op: "set"; readonly key: number; readonly value: number } | {
  readonly op: "delete"
  readonly key: number
}

describe("RecentMap", () => {
  it("keeps the newest `capacity` insertions; a key set again keeps its place, one deleted and set again goes last", () => {
    const m = new RecentMap<string, number>(3)
    m.set("a", 1)
    m.set("b", 2)
    m.set("c", 3)
    m.set("a", 10) // keeps its place: still the oldest
    m.set("d", 4)
    assert.deepStrictEqual([...m.keys()], ["b", "c", "d"])
    assert.isUndefined(m.get("a"))
    m.delete("c")
    m.set("c", 30)
    m.set("e", 5)
    assert.deepStrictEqual([...m.keys()], ["d", "c", "e"])
    assert.strictEqual(m.get("c"), 30)
    assert.strictEqual(m.size, 3)
    assert.isFalse(m.delete("zzz"))
    for (const key of ["d", "c", "e"]) assert.isTrue(m.delete(key))
    assert.strictEqual(m.size, 0)
    assert.deepStrictEqual([...m.keys()], [])
    m.set("f", 6)
    assert.deepStrictEqual([...m.keys()], ["f"])
  })

  it("property: the same entries, values and order as a Map that evicts `keys().next()`", () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant("set" as const), key: fc.integer({ min: 0, max: 12 }), value: fc.integer() }),
      fc.record({ op: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 12 }) })
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const recent = new RecentMap<number, number>(capacity)
        const model = new Map<number, number>()
        for (const o of ops) {
          if (o.op === "set") {
            recent.set(o.key, o.value)
            model.set(o.key, o.value)
            if (model.size > capacity) model.delete(model.keys().next().value!)
          } else {
            assert.strictEqual(recent.delete(o.key), model.delete(o.key))
          }
          assert.deepStrictEqual([...recent.keys()], [...model.keys()])
          assert.strictEqual(recent.size, model.size)
          for (const [key, value] of model) assert.strictEqual(recent.get(key), value)
          for (let key = 0; key <= 12; key++) assert.strictEqual(recent.has(key), model.has(key))
        }
      }),
      { numRuns: 300 }
    )
  })
})
