// Whether the machine has a core to spare: the decisions of `IdleCores` from the CPU times it is fed.
import { assert, describe, it } from "@effect/vitest"
import { IdleCores, readTimes, spareCoreShare } from "../../src/runtime/host/IdleCores.ts"
import type { Times } from "../../src/runtime/host/IdleCores.ts"

/** A sampler fed `samples` in turn (the last one repeated), counting its reads. */
const fed = (samples: ReadonlyArray<Times | undefined>) => {
  let reads = 0
  const idleCores = new IdleCores(() => samples[Math.min(reads++, samples.length - 1)])
  return { idleCores, reads: () => reads }
}

describe("IdleCores", () => {
  it("says there is a core to spare until it has two samples", () => {
    const { idleCores } = fed([{ idle: 0, total: 0, cores: 2 }, { idle: 0, total: 200, cores: 2 }])
    assert.isTrue(idleCores.available(0))
  })

  it("no core to spare when every core was busy over the last sample, one when half a core idled", () => {
    const { idleCores } = fed([
      { idle: 0, total: 0, cores: 2 },
      { idle: 2, total: 200, cores: 2 }, // 0.02 of a core idle
      { idle: 2 + 50, total: 400, cores: 2 } // a quarter of the time idle: half a core
    ])
    idleCores.available(0)
    assert.isFalse(idleCores.available(1_000))
    assert.isTrue(idleCores.available(2_000))
    assert.isAtMost(spareCoreShare, 0.5)
  })

  it("reads the OS at most once per sample period and keeps its answer in between", () => {
    const { idleCores, reads } = fed([{ idle: 0, total: 0, cores: 2 }, { idle: 0, total: 200, cores: 2 }])
    idleCores.available(0)
    assert.isFalse(idleCores.available(1_000))
    const after = reads()
    for (let t = 1_000; t < 1_050; t++) assert.isFalse(idleCores.available(t))
    assert.strictEqual(reads(), after)
  })

  it("where the times cannot be read, behaves as a machine with cores to spare", () => {
    const { idleCores } = fed([undefined])
    assert.isTrue(idleCores.available(0))
    assert.isTrue(idleCores.available(10_000))
  })

  it.runIf(process.platform === "linux")("reads the machine's times from procfs", () => {
    const times = readTimes()
    assert.isDefined(times)
    assert.isAbove(times!.total, 0)
    assert.isAtLeast(times!.total, times!.idle)
    assert.isAtLeast(times!.cores, 1)
  })
})
