import { assert, describe, it } from "@effect/vitest"
import { Context, Metric } from "effect"
import { frozenOwnerLimit, gaugeHooks, OwnedSeries } from "../../src/runtime/metrics/MetricHooks.ts"

const gauge = Metric.gauge("owned_series_test")
const fresh = () => Context.make(Metric.MetricRegistry, new Map())
const values = (context: Context.Context<never>) =>
  Metric.snapshotUnsafe(context).map((m) => [m.attributes?.owner, (m.state as Metric.GaugeState<number>).value])

describe("OwnedSeries", () => {
  it("freeze keeps the value read at that moment and stops reading", () => {
    const context = fresh()
    let live = 3
    let reads = 0
    const series = new OwnedSeries(context)
    series.add(Metric.withAttributes(gauge, { owner: "a" }), gaugeHooks(() => (reads++, live)))
    assert.deepStrictEqual(values(context), [["a", 3]])
    live = 7
    series.freeze()
    const readsAtFreeze = reads
    live = 99
    assert.deepStrictEqual(values(context), [["a", 7]])
    assert.strictEqual(reads, readsAtFreeze)
    // nothing joins a frozen owner
    series.add(Metric.withAttributes(gauge, { owner: "late" }), gaugeHooks(() => 1))
    assert.deepStrictEqual(values(context), [["a", 7]])
  })

  it("a later owner with the same attributes replaces the frozen series; freezing an older one leaves a live one", () => {
    const context = fresh()
    const first = new OwnedSeries(context)
    first.add(Metric.withAttributes(gauge, { owner: "pool" }), gaugeHooks(() => 1))
    const second = new OwnedSeries(context)
    second.add(Metric.withAttributes(gauge, { owner: "pool" }), gaugeHooks(() => 2))
    first.freeze()
    assert.deepStrictEqual(values(context), [["pool", 2]])
    first.remove()
    assert.deepStrictEqual(values(context), [["pool", 2]])
  })

  it(`only the last ${frozenOwnerLimit} owners to close keep their frozen series`, () => {
    const context = fresh()
    for (let i = 0; i <= frozenOwnerLimit; i++) {
      const series = new OwnedSeries(context)
      series.add(Metric.withAttributes(gauge, { owner: `o${i}` }), gaugeHooks(() => i))
      series.freeze()
    }
    const owners = values(context).map(([owner]) => owner)
    assert.strictEqual(owners.length, frozenOwnerLimit)
    assert.notInclude(owners, "o0")
    assert.include(owners, `o${frozenOwnerLimit}`)
  })
})
