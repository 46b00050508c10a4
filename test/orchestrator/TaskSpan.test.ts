// A task's span under Effect's default tracer is made by `TaskSpan` (cheaply), and otherwise by Effect: either
// way it must look the same to the task's own code and to an exporter.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Option, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Task } from "../../src/index.ts"
import { execute } from "../../src/runtime/orchestrator/TaskExecution.ts"

const spanOfTask = (options: Task.TaskOptions = {}) =>
  Effect.map(execute(Task.make(Effect.currentSpan, { name: "probe", ...options }), { span: true }), (result) => {
    if (!Exit.isSuccess(result.exit)) throw new Error(`the probe failed: ${String(result.exit)}`)
    return result.exit.value
  })

// What Effect itself makes for the same span, to compare with.
const effectsOwn = (name: string, attributes: Record<string, unknown>) =>
  Effect.useSpan(name, { attributes }, (span) => Effect.succeed(span))

const recording = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

describe("a task's span under the default tracer", () => {
  it.effect("is the default tracer's kind of span, named after the task, with its attributes", () =>
    Effect.gen(function*() {
      const span = yield* spanOfTask({ id: "probe-1", priority: "high", kind: "cpu" })
      assert.instanceOf(span, Tracer.NativeSpan)
      assert.strictEqual(span.name, "task probe")
      assert.deepStrictEqual([...span.attributes], [
        ["task.id", "probe-1"],
        ["task.kind", "cpu"],
        ["task.priority", "high"]
      ])
      assert.strictEqual(span.kind, "internal")
      assert.isTrue(span.sampled)
      assert.isTrue(Option.isNone(span.parent))
      assert.lengthOf(span.spanId, 16)
      assert.lengthOf(span.traceId, 32)
    }))

  it.effect("matches Effect's own span for the same parent, sampling and links", () =>
    Effect.gen(function*() {
      const link = { span: Tracer.externalSpan({ spanId: "s1", traceId: "t1" }), attributes: { why: "test" } }
      const [ours, theirs] = yield* Effect.all([
        spanOfTask({ id: "p" }),
        effectsOwn("task probe", { "task.id": "p", "task.kind": "io", "task.priority": "normal" })
      ]).pipe(Effect.linkSpans(link.span, link.attributes), Effect.withSpan("request"))
      assert.strictEqual(Option.getOrThrow(ours.parent).spanId, Option.getOrThrow(theirs.parent).spanId)
      assert.strictEqual(ours.traceId, theirs.traceId, "one trace")
      assert.deepStrictEqual(ours.links, theirs.links)
      assert.deepStrictEqual([...ours.attributes], [...theirs.attributes])
      assert.strictEqual(ours.sampled, theirs.sampled)
    }))

  it.effect("an unsampled parent gives an unsampled span", () =>
    Effect.gen(function*() {
      const span = yield* spanOfTask().pipe(Effect.withSpan("quiet", { sampled: false }))
      assert.isFalse(span.sampled)
    }))

  it.effect("is the parent of the spans the task makes, and ends with the task's own exit", () =>
    Effect.gen(function*() {
      let child: Tracer.Span | undefined
      let taskSpan: Tracer.Span | undefined
      const task = Task.make(
        Effect.gen(function*() {
          taskSpan = yield* Effect.currentSpan
          child = yield* Effect.currentSpan.pipe(Effect.withSpan("inner"))
          return yield* Effect.fail("boom" as const)
        }),
        { name: "failing" }
      )
      const result = yield* execute(task, { span: true })
      assert.isTrue(Exit.isFailure(result.exit))
      assert.strictEqual(Option.getOrThrow(child!.parent).spanId, taskSpan!.spanId)
      const status = taskSpan!.status
      assert.strictEqual(status._tag, "Ended")
      assert.isTrue(status._tag === "Ended" && Exit.isFailure(status.exit), "ended with the task's failure")
    }))

  it.effect("an interrupted task's span ends, interrupted", () =>
    Effect.gen(function*() {
      let span: Tracer.Span | undefined
      const task = Task.make(Effect.flatMap(Effect.currentSpan, (s) => (span = s, Effect.never)))
      const fiber = yield* Effect.forkChild(execute(task, { span: true }))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      const status = span!.status
      assert.isTrue(status._tag === "Ended" && Exit.hasInterrupts(status.exit))
    }))

  it.effect("its times are the fiber's clock's: under the TestClock, the test clock's", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 second")
      const result = yield* execute(
        Task.make(Effect.flatMap(TestClock.adjust("3 seconds"), () => Effect.currentSpan), { name: "timed" }),
        { span: true }
      )
      const status = Exit.isSuccess(result.exit) ? result.exit.value.status : undefined
      assert.deepStrictEqual(
        status?._tag === "Ended" ? [status.startTime, status.endTime] : status,
        [BigInt(1_000_000_000), BigInt(4_000_000_000)]
      )
    }))

  it.live("under Effect's default clock, its times fall between the clock's own readings around it", () =>
    Effect.gen(function*() {
      const before = yield* Clock.currentTimeNanos
      const result = yield* execute(
        Task.make(Effect.flatMap(Effect.sleep("5 millis"), () => Effect.currentSpan), { name: "timed" }),
        { span: true }
      )
      const after = yield* Clock.currentTimeNanos
      const status = Exit.isSuccess(result.exit) ? result.exit.value.status : undefined
      assert.isTrue(status?._tag === "Ended")
      if (status?._tag !== "Ended") return
      assert.isTrue(before <= status.startTime, `started ${status.startTime}, not before ${before}`)
      assert.isTrue(status.endTime <= after, `ended ${status.endTime}, not after ${after}`)
      // a 5 ms sleep, by a timer that may fire a fraction of a millisecond early
      assert.isTrue(status.endTime - status.startTime >= BigInt(4_000_000), "it spans the task")
    }))

  it.effect("without timing, the span has no times, as Effect's own", () =>
    Effect.gen(function*() {
      const span = yield* spanOfTask().pipe(Effect.withTracerTiming(false))
      assert.strictEqual(span.status.startTime, BigInt(0))
    }))
})

describe("a task's span otherwise is Effect's", () => {
  it.effect("span annotations from the environment are on it, beside the task's attributes", () =>
    Effect.gen(function*() {
      const span = yield* spanOfTask({ id: "a" }).pipe(Effect.annotateSpans({ tenant: "acme" }))
      assert.strictEqual(span.attributes.get("tenant"), "acme")
      assert.strictEqual(span.attributes.get("task.id"), "a")
    }))

  it.effect("tracing disabled: a span that propagates nothing, as Effect makes it", () =>
    Effect.gen(function*() {
      const span = yield* spanOfTask().pipe(Effect.withTracerEnabled(false))
      const theirs = yield* effectsOwn("x", {}).pipe(Effect.withTracerEnabled(false))
      assert.strictEqual(span.constructor, theirs.constructor)
      assert.notInstanceOf(span, Tracer.NativeSpan)
    }))

  it.effect("another tracer records the task's span with its attributes, ended with the task's failure", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const result = yield* execute(Task.make(Effect.fail("boom"), { name: "recorded", id: "r1" }), { span: true })
        .pipe(Effect.withTracer(tracer))
      assert.isTrue(Exit.isFailure(result.exit))
      const span = spans.find((s) => s.name === "task recorded")
      assert.isDefined(span)
      assert.strictEqual(span!.attributes.get("task.id"), "r1")
      const status = span!.status
      assert.isTrue(status._tag === "Ended" && Exit.isFailure(status.exit), "an exporter sees the failure")
    }))
})
