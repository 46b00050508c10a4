import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Batch from "../../src/runtime/orchestrator/Batch.ts"
import type { BatchProgress } from "../../src/runtime/orchestrator/Batch.ts"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("Batch", () => {
  it.effect("processes an array in chunks, keeps input order, bounds concurrency", () =>
    Effect.gen(function*() {
      const sizes: Array<number> = []
      let inFlight = 0
      let peak = 0
      const result = yield* Batch.run(range(1_050), (chunk) =>
        Effect.gen(function*() {
          sizes.push(chunk.length)
          inFlight++
          peak = Math.max(peak, inFlight)
          // Later chunks finish first, so order must come from the batch runner, not from completion.
          yield* Effect.sleep(`${2_000 - chunk[0]!} millis`)
          inFlight--
          return chunk.map((x) => x * 2)
        }), { batchSize: 100, concurrency: 3 }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 hour")
      const out = yield* Fiber.join(result)
      assert.deepStrictEqual(out, range(1_050).map((x) => x * 2))
      assert.deepStrictEqual(sizes.sort((a, b) => a - b), [50, ...Array(10).fill(100)])
      assert.strictEqual(peak, 3)
    }))

  it.effect("reports progress with done, total, chunks and items/s", () =>
    Effect.gen(function*() {
      const seen: Array<BatchProgress> = []
      const fiber = yield* Batch.run(range(10), (chunk) => Effect.as(Effect.sleep("1 second"), chunk), {
        batchSize: 4,
        concurrency: 1,
        onProgress: (p) => Effect.sync(() => seen.push(p))
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.map((p) => [p.done, p.total, p.chunks]), [[4, 10, 1], [8, 10, 2], [10, 10, 3]])
      assert.strictEqual(seen[2]!.elapsedMillis, 3_000)
      assert.closeTo(seen[2]!.itemsPerSecond, 10 / 3, 1e-9)
    }))

  it.effect("accepts iterables and streams; total is unknown for them", () =>
    Effect.gen(function*() {
      const totals: Array<number | undefined> = []
      const onProgress = (p: BatchProgress) => Effect.sync(() => totals.push(p.total))
      const fromSet = yield* Batch.run(new Set([1, 2, 3, 4, 5]), (c) => Effect.succeed(c.map(String)), {
        batchSize: 2,
        onProgress
      })
      assert.deepStrictEqual(fromSet, ["1", "2", "3", "4", "5"])
      const fromStream = yield* Batch.run(Stream.range(1, 7), (c) => Effect.succeed(c.map((x) => -x)), { batchSize: 3 })
      assert.deepStrictEqual(fromStream, [-1, -2, -3, -4, -5, -6, -7])
      assert.deepStrictEqual(totals, [undefined, undefined, undefined])
    }))

  it.effect("stream emits results in order without collecting them", () =>
    Effect.gen(function*() {
      const out = yield* Batch.stream(range(25), (c) => Effect.succeed(c), { batchSize: 10, concurrency: 2 }).pipe(
        Stream.take(12),
        Stream.runCollect
      )
      assert.deepStrictEqual(out, range(12))
    }))

  it.effect("a failing chunk fails the run and interrupts chunks in flight", () =>
    Effect.gen(function*() {
      let interrupted = 0
      const fiber = yield* Batch.run(range(40), (chunk) =>
        chunk[0] === 10
          ? Effect.fail("bad chunk" as const)
          : Effect.as(Effect.onInterrupt(Effect.sleep("1 minute"), () => Effect.sync(() => interrupted++)), chunk), {
        batchSize: 10,
        concurrency: 4
      }).pipe(Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "bad chunk")
      assert.isAtLeast(interrupted, 1)
    }))

  it.effect("invalid sizes are typed errors naming the field", () =>
    Effect.gen(function*() {
      const zero = yield* Effect.flip(Batch.run([1], (c) => Effect.succeed(c), { batchSize: 0 }))
      assert.strictEqual(zero._tag, "InvalidConfig")
      assert.strictEqual(zero._tag === "InvalidConfig" && zero.field, "batch.batchSize")
      const negative = yield* Effect.flip(Batch.run(Stream.make(1), (c) => Effect.succeed(c), { concurrency: -1 }))
      assert.strictEqual(negative._tag === "InvalidConfig" && negative.field, "batch.concurrency")
    }))

  it.effect("an empty input gives an empty result and no progress", () =>
    Effect.gen(function*() {
      let calls = 0
      const out = yield* Batch.run([], (c) => Effect.succeed(c), { onProgress: () => Effect.sync(() => calls++) })
      assert.deepStrictEqual(out, [])
      assert.strictEqual(calls, 0)
    }))
})
