// JobSpan: the consumer's span of a job, made before its fiber starts as `Effect.withSpan` would make it inside.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Option, References, Tracer } from "effect"
import * as JobSpan from "../../src/runtime/distributed/JobSpan.ts"

const recording = () => {
  const made: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      made.push(span)
      return span
    }
  })
  return { made, tracer }
}

const producerSpan = Tracer.externalSpan({ traceId: "a".repeat(32), spanId: "b".repeat(16), sampled: true })

describe("JobSpan", () => {
  it("the same span as Effect.withSpan: tracer, name, kind, attributes, parent, links; the job's parent; ended with its exit", async () => {
    const { made, tracer } = recording()
    const link = { span: producerSpan, attributes: { why: "test" } }
    const context = Context.make(Tracer.Tracer, tracer).pipe(Context.add(References.TracerSpanLinks, [link]))
    const spans = JobSpan.make(context)!
    assert.isDefined(spans)
    const attributes = { queue: "q", jobId: "7", attempt: 1 }
    const started = spans.start("Consumer.job inc", "consumer", attributes, producerSpan)
    // What Effect.withSpan makes from the same options, for comparison.
    await Effect.runPromiseWith(context)(
      Effect.void.pipe(Effect.withSpan("Consumer.job inc", { kind: "consumer", attributes, parent: producerSpan }))
    )
    const [ours, effects] = made
    assert.strictEqual(ours, started.span)
    for (const span of [ours!, effects!]) {
      assert.strictEqual(span.name, "Consumer.job inc")
      assert.strictEqual(span.kind, "consumer")
      assert.strictEqual(span.sampled, true)
      assert.strictEqual(Option.getOrUndefined(span.parent), producerSpan)
      assert.deepStrictEqual(Object.fromEntries(span.attributes), attributes)
      assert.deepStrictEqual(span.links, [link])
    }
    // The job runs with it as its parent span, under the same stack frame name.
    const inside = await Effect.runPromiseWith(started.context)(
      Effect.all([Effect.currentParentSpan, Effect.service(References.CurrentStackFrame)])
    )
    assert.strictEqual(inside[0], ours)
    assert.strictEqual(inside[1]?.name, "Consumer.job inc")
    assert.strictEqual(ours!.status._tag, "Started")
    const exit = Exit.fail("declined")
    spans.end(ours!, exit)
    spans.end(ours!, Exit.void) // once
    assert.strictEqual(ours!.status._tag, "Ended")
    assert.strictEqual((ours!.status as { readonly exit: Exit.Exit<unknown, unknown> }).exit, exit)
  })

  it("without a parent from the job: the context's span, and its sampling", () => {
    const { tracer } = recording()
    const ambient = Tracer.externalSpan({ traceId: "c".repeat(32), spanId: "d".repeat(16), sampled: false })
    const context = Context.make(Tracer.Tracer, tracer).pipe(Context.add(Tracer.ParentSpan, ambient))
    const { span } = JobSpan.make(context)!.start("Consumer.job inc", "consumer", {}, undefined)
    assert.strictEqual(Option.getOrUndefined(span.parent), ambient)
    assert.strictEqual(span.sampled, false)
    const root = JobSpan.make(Context.empty())!.start("Consumer.job inc", "consumer", {}, undefined).span
    assert.isTrue(Option.isNone(root.parent))
    assert.strictEqual(root.sampled, true)
  })

  it("leaves the uncommon cases to Effect.withSpan", () => {
    const disabled = Tracer.externalSpan({
      traceId: "c".repeat(32),
      spanId: "d".repeat(16),
      annotations: Context.make(Tracer.DisablePropagation, true)
    })
    for (
      const context of [
        Context.make(References.TracerEnabled, false),
        Context.make(Tracer.MinimumTraceLevel, "Warn"),
        Context.make(Tracer.CurrentTraceLevel, "Debug"),
        Context.make(References.TracerSpanAnnotations, { tenant: "acme" }),
        Context.make(Tracer.ParentSpan, disabled)
      ] as Array<Context.Context<never>>
    ) {
      assert.isUndefined(JobSpan.make(context))
    }
  })
})
