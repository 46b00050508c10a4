import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Entry, holdingLane, PriorityQueue } from "../../src/runtime/scheduler/PriorityQueue.ts"

class Item extends Entry {
  readonly name: string
  constructor(name: string, priority: number) {
    super(priority)
    this.name = name
  }
}

const drain = (queue: PriorityQueue<Item>, now: number): Array<string> => {
  const out: Array<string> = []
  for (let item = queue.pop(now); item !== undefined; item = queue.pop(now)) out.push(item.name)
  return out
}

describe("PriorityQueue", () => {
  it("serves levels most urgent first, FIFO within a level", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const anon = queue.group(undefined)
    for (
      const [name, priority] of [["L1", 3], ["N1", 2], ["C1", 0], ["H1", 1], ["C2", 0], ["N2", 2], ["L2", 3]] as const
    ) {
      queue.push(new Item(name, priority), anon, 0)
    }
    assert.deepStrictEqual([...queue.depth], [2, 1, 2, 2, 0])
    assert.strictEqual(queue.queued, 7)
    assert.deepStrictEqual(drain(queue, 0), ["C1", "C2", "H1", "N1", "N2", "L1", "L2"])
    assert.strictEqual(queue.queued, 0)
    assert.isFalse(queue.hasEligible())
  })

  it("removes an entry from the middle in place", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const anon = queue.group(undefined)
    const items = ["a", "b", "c", "d"].map((name) => new Item(name, 2))
    for (const item of items) queue.push(item, anon, 0)
    queue.remove(items[1]!)
    queue.remove(items[3]!)
    queue.remove(items[3]!) // twice is harmless
    assert.strictEqual(queue.depth[2], 2)
    assert.strictEqual(queue.queued, 2)
    assert.strictEqual(anon.waiting, 2)
    assert.deepStrictEqual(drain(queue, 0), ["a", "c"])
  })

  it("remove on an entry that was popped, or never queued, touches no other entry", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const anon = queue.group(undefined)
    const [x, y] = [new Item("x", 1), new Item("y", 1)]
    queue.push(x, anon, 0)
    queue.push(y, anon, 0)
    assert.strictEqual(queue.pop(0), x)
    queue.remove(x)
    queue.remove(new Item("never queued", 1))
    assert.deepStrictEqual([queue.queued, queue.depth[1], anon.waiting], [1, 1, 1])
    assert.deepStrictEqual(drain(queue, 0), ["y"])
  })

  it("the group of unkeyed entries is the shared anonymous one, never a keyed group", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    assert.strictEqual(queue.group(undefined), queue.anonymous)
    assert.strictEqual(queue.groupCount, 0)
  })

  it("takes keys in turn within a level", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const a = queue.group("a")
    const b = queue.group("b")
    const c = queue.group("c")
    for (let i = 1; i <= 4; i++) queue.push(new Item(`a${i}`, 2), a, 0)
    queue.push(new Item("b1", 2), b, 0)
    queue.push(new Item("b2", 2), b, 0)
    queue.push(new Item("c1", 2), c, 0)
    assert.deepStrictEqual(drain(queue, 0), ["a1", "b1", "c1", "a2", "b2", "a3", "a4"])
  })

  it("removing the last entry of a key that is not next in turn skips no other key", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const [a, b, c] = [queue.group("a"), queue.group("b"), queue.group("c")]
    queue.push(new Item("a1", 2), a, 0)
    queue.push(new Item("a2", 2), a, 0)
    const b1 = new Item("b1", 2)
    queue.push(b1, b, 0)
    queue.push(new Item("c1", 2), c, 0)
    queue.remove(b1)
    assert.deepStrictEqual(drain(queue, 0), ["a1", "c1", "a2"])
  })

  it("removing the last entry of the key whose turn it is passes the turn to the next key", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const a1 = new Item("a1", 2)
    queue.push(a1, queue.group("a"), 0)
    queue.push(new Item("b1", 2), queue.group("b"), 0)
    queue.push(new Item("c1", 2), queue.group("c"), 0)
    queue.remove(a1)
    assert.deepStrictEqual(drain(queue, 0), ["b1", "c1"])
  })

  it("take of an entry other than peek's leaves the turn where it was", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const b1 = new Item("b1", 2)
    queue.push(new Item("a1", 2), queue.group("a"), 0)
    queue.push(b1, queue.group("b"), 0)
    queue.push(new Item("c1", 2), queue.group("c"), 0)
    queue.take(b1)
    assert.deepStrictEqual(drain(queue, 0), ["a1", "c1"])
  })

  it("a key that joins late waits for one turn of the keys already queued, not for their backlog", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const a = queue.group("a")
    for (let i = 1; i <= 100; i++) queue.push(new Item(`a${i}`, 2), a, 0)
    assert.strictEqual(queue.pop(0)!.name, "a1")
    queue.push(new Item("b1", 2), queue.group("b"), 0)
    assert.deepStrictEqual([queue.pop(0)!.name, queue.pop(0)!.name, queue.pop(0)!.name], ["a2", "b1", "a3"])
  })

  it("priority comes before fairness", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    queue.push(new Item("a-low", 3), queue.group("a"), 0)
    queue.push(new Item("b-high", 1), queue.group("b"), 0)
    queue.push(new Item("b-high2", 1), queue.group("b"), 0)
    assert.deepStrictEqual(drain(queue, 0), ["b-high", "b-high2", "a-low"])
  })

  it("a key at its limit is skipped until one of its tasks ends; its entries keep their place", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000, perKeyLimit: 1 })
    const a = queue.group("a")
    const b = queue.group("b")
    queue.push(new Item("a1", 0), a, 0)
    queue.push(new Item("a2", 0), a, 0)
    queue.push(new Item("b1", 3), b, 0)
    const first = queue.pop(0)!
    assert.strictEqual(first.name, "a1")
    queue.acquire(a)
    assert.isTrue(a.blocked)
    assert.isFalse(queue.canRun(a))
    // a2 is more urgent but its key is at its limit
    assert.strictEqual(queue.pop(0)!.name, "b1")
    queue.acquire(b)
    assert.isFalse(queue.hasEligible())
    assert.isUndefined(queue.pop(0))
    queue.release(a)
    assert.isFalse(a.blocked)
    assert.strictEqual(queue.pop(0)!.name, "a2")
  })

  it("a key is blocked only once it reaches its limit, and stays blocked until it is below it", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000, perKeyLimit: 2 })
    const a = queue.group("a")
    assert.isTrue(queue.canRun(a))
    queue.acquire(a)
    assert.isTrue(queue.canRun(a))
    assert.isFalse(a.blocked)
    queue.acquire(a)
    assert.isFalse(queue.canRun(a))
    assert.isTrue(a.blocked)
    // acquire does not refuse past the limit: one release from one over it is not enough
    queue.acquire(a)
    queue.release(a)
    assert.isTrue(a.blocked)
    queue.release(a)
    assert.isFalse(a.blocked)
  })

  it("an unblocked key is served from the level its entries are in, whichever it is", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000, perKeyLimit: 1 })
    const a = queue.group("a")
    queue.acquire(a)
    queue.push(new Item("a-normal", 2), a, 0)
    queue.release(a)
    assert.strictEqual(queue.pop(0)?.name, "a-normal")
    assert.isUndefined(queue.pop(0))
  })

  it("hasEligible sees an entry in any single lane, the holding lane included", () => {
    for (let lane = 0; lane <= holdingLane; lane++) {
      const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
      assert.isFalse(queue.hasEligible())
      const item = new Item(`in ${lane}`, Math.min(lane, 3))
      if (lane === holdingLane) queue.hold(item, queue.anonymous, 0)
      else queue.push(item, queue.anonymous, 0)
      assert.isTrue(queue.hasEligible(), `an entry in lane ${lane}`)
    }
  })

  it("unkeyed entries are never limited", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000, perKeyLimit: 1 })
    const anon = queue.group(undefined)
    for (let i = 0; i < 5; i++) queue.acquire(anon)
    assert.isTrue(queue.canRun(anon))
    assert.isFalse(anon.blocked)
  })

  it("forgets idle keys and keeps busy ones", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    const a = queue.group("a")
    const item = new Item("a1", 2)
    queue.push(item, a, 0)
    queue.dropIfIdle(a)
    assert.strictEqual(queue.group("a"), a)
    queue.remove(item)
    queue.acquire(a)
    queue.dropIfIdle(a)
    assert.strictEqual(queue.group("a"), a)
    queue.release(a)
    queue.dropIfIdle(a)
    assert.strictEqual(queue.groupCount, 0)
    assert.notStrictEqual(queue.group("a"), a)
  })

  it("ages an entry one level per agingMillis, up to critical", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 100 })
    const anon = queue.group(undefined)
    const low = new Item("low", 3)
    queue.push(low, anon, 0)
    queue.age(99)
    assert.strictEqual(low.lane, 3)
    queue.age(100)
    assert.strictEqual(low.lane, 2)
    assert.strictEqual(low.enteredAt, 100)
    queue.age(350)
    assert.strictEqual(low.lane, 0)
    assert.strictEqual(low.enteredAt, 300)
    assert.strictEqual(queue.promoted, 3)
    queue.age(10_000)
    assert.strictEqual(low.lane, 0)
    assert.deepStrictEqual([...queue.depth], [1, 0, 0, 0, 0])
  })

  it("removing an entry from the middle of a level keeps the level's oldest entry due for aging", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 100 })
    const anon = queue.group(undefined)
    const [a, b, c] = [new Item("a", 3), new Item("b", 3), new Item("c", 3)]
    queue.push(a, anon, 0)
    queue.push(b, anon, 10)
    queue.push(c, anon, 20)
    queue.remove(b)
    queue.age(100)
    assert.deepStrictEqual([a.lane, c.lane], [2, 3])
  })

  it("a promoted entry goes ahead of entries that reached its new level later", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 100 })
    const anon = queue.group(undefined)
    queue.push(new Item("high-early", 1), anon, 50)
    queue.push(new Item("normal", 2), anon, 60) // due at level 1 at 160
    queue.push(new Item("high-late", 1), anon, 170)
    // high-early itself is promoted at 150
    assert.deepStrictEqual(drain(queue, 170), ["high-early", "normal", "high-late"])
  })

  it("on equal arrival at a level, the entry that climbed goes first", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 100 })
    const anon = queue.group(undefined)
    queue.push(new Item("low", 3), anon, 0) // level 2 at 100
    queue.push(new Item("normal", 2), anon, 100)
    assert.deepStrictEqual(drain(queue, 100), ["low", "normal"])
  })

  it("entries of a blocked key age too", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 10, perKeyLimit: 1 })
    const a = queue.group("a")
    queue.acquire(a)
    const item = new Item("a1", 3)
    queue.push(item, a, 0)
    assert.isUndefined(queue.pop(35))
    assert.strictEqual(item.lane, 0)
    queue.release(a)
    assert.strictEqual(queue.pop(35), item)
  })

  it("a clock set back never breaks the order of a level", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 10 })
    const anon = queue.group(undefined)
    const a = new Item("a", 1)
    const b = new Item("b", 2)
    queue.push(a, anon, 500)
    queue.push(b, anon, 0) // the clock went back
    queue.age(505)
    // b is due at level 1 since 10, but it cannot arrive there before a, which is already there
    assert.strictEqual(b.lane, 1)
    assert.strictEqual(b.enteredAt, 500)
    assert.strictEqual(a.lane, 1)
    queue.age(510)
    assert.deepStrictEqual([a.lane, b.lane], [0, 0])
    assert.deepStrictEqual(drain(queue, 510), ["a", "b"])
  })

  it("holding lane: served last, let in oldest first, counted apart", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000, perKeyLimit: 1 })
    const a = queue.group("a")
    const b = queue.group("b")
    const held1 = new Item("held-b", 3)
    const held2 = new Item("held-a", 0)
    queue.hold(held1, b, 0)
    queue.hold(held2, a, 1)
    queue.push(new Item("queued-a", 3), a, 2)
    assert.strictEqual(queue.queued, 1)
    assert.strictEqual(queue.depth[holdingLane], 2)
    // held entries age not
    queue.age(1_000_000)
    assert.strictEqual(held1.lane, holdingLane)
    assert.strictEqual(queue.pop(1_000_000)!.name, "queued-a")
    queue.acquire(a)
    // the queue has nothing that may run: a held entry whose key may run is served
    assert.strictEqual(queue.pop(1_000_000), held1)
    queue.acquire(b)
    assert.isUndefined(queue.pop(1_000_000))
    // let in: oldest first, at its own priority
    assert.strictEqual(queue.admitHeld(1_000_000), held2)
    assert.strictEqual(held2.lane, 0)
    assert.strictEqual(queue.queued, 1)
    assert.isUndefined(queue.admitHeld(1_000_000))
  })

  it("a held entry let in ages the queue first: entries due at its level before it arrived stay ahead", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 100 })
    const anon = queue.group(undefined)
    queue.push(new Item("normal", 2), anon, 0) // due at level 1 at 100
    queue.hold(new Item("held-high", 1), anon, 0)
    queue.admitHeld(150)
    assert.deepStrictEqual(drain(queue, 150), ["normal", "held-high"])
  })

  it("takeAll empties every lane", () => {
    const queue = new PriorityQueue<Item>({ agingMillis: 1_000 })
    queue.push(new Item("x", 1), queue.group("k"), 0)
    queue.push(new Item("y", 3), queue.group(undefined), 0)
    queue.hold(new Item("z", 0), queue.group(undefined), 0)
    assert.deepStrictEqual(queue.takeAll().map((i) => i.name), ["x", "y", "z"])
    assert.deepStrictEqual([...queue.depth], [0, 0, 0, 0, 0])
    assert.isFalse(queue.hasEligible())
  })

  // Without keys the queue must behave like this reference: the entry with the smallest
  // (current level, time it reached that level, submission time, sequence) comes out first.
  it("matches a sorting reference model under random pushes, pops, removals and time", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), priority: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant("pop" as const) }),
      fc.record({ kind: fc.constant("remove" as const), index: fc.nat() }),
      fc.record({ kind: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 40 }) })
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(op, { maxLength: 200 }), (aging, ops) => {
        const queue = new PriorityQueue<Item>({ agingMillis: aging })
        const anon = queue.group(undefined)
        interface Ref {
          readonly item: Item
          readonly priority: number
          readonly at: number
          readonly seq: number
        }
        let model: Array<Ref> = []
        let now = 0
        let seq = 0
        const key = (r: Ref) => {
          const level = Math.max(0, r.priority - Math.floor((now - r.at) / aging))
          return [level, r.at + (r.priority - level) * aging, r.at, r.seq] as const
        }
        const compare = (x: Ref, y: Ref) => {
          const kx = key(x)
          const ky = key(y)
          for (let i = 0; i < 4; i++) if (kx[i] !== ky[i]) return kx[i]! - ky[i]!
          return 0
        }
        for (const o of ops) {
          if (o.kind === "push") {
            const item = new Item(`#${seq}`, o.priority)
            queue.push(item, anon, now)
            model.push({ item, priority: o.priority, at: now, seq: seq++ })
          } else if (o.kind === "pop") {
            const expected = [...model].sort(compare)[0]
            const actual = queue.pop(now)
            assert.strictEqual(actual, expected?.item)
            model = model.filter((r) => r !== expected)
          } else if (o.kind === "remove") {
            if (model.length === 0) continue
            const victim = model[o.index % model.length]!
            queue.remove(victim.item)
            model = model.filter((r) => r !== victim)
          } else {
            now += o.millis
          }
          assert.strictEqual(queue.queued, model.length)
        }
        queue.age(now)
        for (let level = 0; level < 4; level++) {
          assert.strictEqual(queue.depth[level], model.filter((r) => key(r)[0] === level).length)
        }
      }),
      { numRuns: 300 }
    )
  })
})
