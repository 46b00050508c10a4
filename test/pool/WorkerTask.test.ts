// Task definitions and the wire codecs, without workers.
import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import * as FunctionSource from "../../src/runtime/wire/FunctionSource.ts"
import { CodecError, collectTransferables } from "../../src/runtime/wire/Protocol.ts"
import { codecFor } from "../../src/runtime/wire/WireCodec.ts"
import { FibTooBig, Lookup } from "./fixtures/tasks.ts"

const acrossBoundary = (schema: WorkerTask.AnySchema, value: unknown): unknown => {
  const codec = codecFor(schema)
  return codec.decode(structuredClone(codec.encode(value)))
}

describe("WorkerTask", () => {
  it("make defaults payload and success to Void and error to Never", () => {
    const Ping = WorkerTask.make("ping")
    assert.strictEqual(Ping.name, "ping")
    assert.strictEqual(Ping.payload, Schema.Void)
    assert.strictEqual(Ping.success, Schema.Void)
    assert.strictEqual(Ping.error, Schema.Never)
    assert.isFalse(Ping.transfer)
    assert.isFalse(Ping.releasePayload)
    const Bytes = WorkerTask.make("bytes", { payload: WorkerTask.Uint8Array, transfer: true, releasePayload: true })
    assert.isTrue(Bytes.transfer)
    assert.isTrue(Bytes.releasePayload)
  })

  it("rejects empty and reserved names, and duplicate names in a group", () => {
    assert.throws(() => WorkerTask.make(""), /must not be empty/)
    assert.throws(() => WorkerTask.make("__orchestrator/offload"), /reserved/)
    const A = WorkerTask.make("a")
    assert.throws(() => WorkerTask.group(A, WorkerTask.make("a")), /appears twice/)
    assert.deepStrictEqual(WorkerTask.group(A).tasks, [A])
  })

  describe("wire codecs", () => {
    it("classes, Option and Date come back as themselves", () => {
      const error = acrossBoundary(FibTooBig, new FibTooBig({ n: 1, max: 2, cause: new TypeError("inner") }))
      assert.instanceOf(error, FibTooBig)
      assert.instanceOf((error as FibTooBig).cause, Error)
      const at = new Date(1234)
      const value = acrossBoundary(Lookup.success, { key: "k", value: Option.some(1), at }) as {
        value: Option.Option<number>
        at: Date
      }
      assert.deepStrictEqual(value.value, Option.some(1))
      assert.strictEqual(value.at.getTime(), 1234)
    })

    it("binary schemas skip JSON: typed arrays arrive as typed arrays", () => {
      const back = acrossBoundary(WorkerTask.Float64Array, new Float64Array([1.5, 2.5]))
      assert.instanceOf(back, Float64Array)
      assert.deepStrictEqual([...(back as Float64Array)], [1.5, 2.5])
      const bytes = acrossBoundary(Schema.Struct({ data: WorkerTask.Uint8Array }), { data: new Uint8Array([7]) })
      assert.instanceOf((bytes as { data: Uint8Array }).data, Uint8Array)
    })

    it("primitive schemas pass values through, and still reject the wrong type with the schema's message", () => {
      const detailOf = (f: () => unknown): string => {
        try {
          f()
        } catch (error) {
          assert.instanceOf(error, CodecError)
          return (error as CodecError).detail
        }
        assert.fail("expected a CodecError")
      }
      assert.isNaN(codecFor(Schema.Number).encode(Number.NaN))
      assert.strictEqual(detailOf(() => codecFor(Schema.Number).encode("1")), "Expected number, got \"1\"")
      assert.include(detailOf(() => codecFor(Schema.Int.check(Schema.isGreaterThan(0))).encode(-3)), "got -3")
      // A value that is not JSON inside an unknown field: the error names its path and its type.
      const unknownData = codecFor(Schema.Struct({ data: Schema.Unknown }))
      assert.strictEqual(
        detailOf(() => unknownData.encode({ data: { n: 1, f: () => 1 } })),
        "Expected JSON value at [\"data\"][\"f\"], got a function (f)"
      )
      assert.include(
        detailOf(() => unknownData.encode({ data: [1, Symbol("s")] })),
        "at [\"data\"][\"1\"], got a symbol"
      )
      assert.include(
        detailOf(() => unknownData.encode({ data: { deep: { d: new Map() } } })),
        "[\"deep\"][\"d\"], got Map"
      )
    })
  })

  describe("transferables", () => {
    it("collects whole buffers of typed arrays and ArrayBuffers, not slices or shared memory", () => {
      const whole = new Float64Array(4)
      const slice = new Float64Array(new ArrayBuffer(64), 8, 2)
      const raw = new ArrayBuffer(8)
      const shared = new Int32Array(new SharedArrayBuffer(16))
      const found: Array<unknown> = []
      collectTransferables({ whole, nested: [slice, { raw, shared, again: whole }] }, found as never)
      assert.deepStrictEqual(found, [whole.buffer, raw])
    })
  })

  describe("offload function checks", () => {
    it("accepts arrows and function expressions, named recursion included", () => {
      assert.isTrue(FunctionSource.check((n: number) => n + 1).ok)
      assert.isTrue(
        FunctionSource.check(function fib(n: number): number {
          return n < 2 ? n : fib(n - 1) + fib(n - 2)
        }).ok
      )
      assert.isTrue(FunctionSource.check(async (s: string) => s.toUpperCase()).ok)
      assert.isTrue(FunctionSource.check((s: string) => s + "this is only text").ok, "`this` inside a string is fine")
    })

    it("rejects what cannot work from source text alone, saying why", () => {
      const cases: ReadonlyArray<[unknown, RegExp]> = [
        [42, /expected a function/],
        [Math.max, /native or bound/],
        [((n: number) => n).bind(null), /native or bound/],
        [class A {}, /class/],
        [
          {
            m(n: number) {
              return n
            }
          }.m,
          /method shorthand/
        ],
        [function(this: { k: number }) {
          return this.k
        }, /`this`/]
      ]
      for (const [fn, detail] of cases) {
        const checked = FunctionSource.check(fn)
        assert.isFalse(checked.ok)
        if (!checked.ok) assert.match(checked.detail, detail)
      }
    })
  })
})
