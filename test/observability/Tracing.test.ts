// Spans and logs of worker handlers reach the main side: a span made in a handler joins the caller's trace and
// is exported by the main side's tracer (an in-memory one here), and a handler's log lines go through the main
// side's loggers annotated with the task and the worker. Through real threads, child processes and `layerTest`.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Metric, Option, References, Tracer } from "effect"
import type { LogLevel } from "effect"
import { Orchestrator, WorkerPool } from "../../src/index.ts"
import { serve } from "../../src/runtime/worker/Server.ts"
import { ParentOf, Square } from "./fixtures/traced-tasks.ts"
import * as traced from "./fixtures/traced-tasks.ts"

const tracedEntry = new URL("./fixtures/traced-worker.ts", import.meta.url)

interface Line {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  readonly date: Date
}

/** An in-memory tracer and a capturing logger, both on the main side. */
const capture = (minimum: LogLevel.LogLevel = "Debug") => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  const lines: Array<Line> = []
  const logger = Logger.make(({ date, fiber, logLevel, message }) => {
    lines.push({
      level: logLevel,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
      date
    })
  })
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.withTracer(tracer),
      Effect.provide(Logger.layer([logger])),
      Effect.provideService(References.MinimumLogLevel, minimum)
    )
  const named = (name: string) => spans.filter((span) => span.name === name)
  return { spans, lines, provide, named }
}

const parentId = (span: Tracer.Span): string | undefined => Option.getOrUndefined(span.parent)?.spanId

const ended = (span: Tracer.Span) => {
  assert.strictEqual(span.status._tag, "Ended", `${span.name} ended`)
  return span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>
}

const pools: ReadonlyArray<readonly [string, () => Layer.Layer<WorkerPool.WorkerPool, unknown>]> = [
  ["worker threads", () => WorkerPool.layer({ entry: tracedEntry, minWorkers: 1, maxWorkers: 1 })],
  [
    "child processes",
    () => WorkerPool.layer({ entry: tracedEntry, minWorkers: 1, maxWorkers: 1, mode: "process" })
  ],
  ["layerTest", () => WorkerPool.layerTest(traced.TracedTasks, traced.handlers)]
]

describe.each(pools)("through %s", (_, layer) => {
  it.effect("a handler's spans are children of the caller's span, with their names, attributes and timing", () => {
    const { lines, named, provide } = capture()
    return Effect.gen(function*() {
      const before = Date.now()
      const result = yield* WorkerPool.run(Square, { n: 3 }).pipe(Effect.withSpan("caller"))
      const after = Date.now()
      assert.strictEqual(result, 9)

      const [caller] = named("caller")
      const [square] = named("square")
      const [check] = named("check")
      assert.isDefined(caller)
      assert.isDefined(square, "the handler's span was exported by the main side's tracer")
      assert.isDefined(check)
      assert.strictEqual(square!.traceId, caller!.traceId)
      assert.strictEqual(parentId(square!), caller!.spanId)
      // Nested in the worker, nested here.
      assert.strictEqual(check!.traceId, caller!.traceId)
      assert.strictEqual(parentId(check!), square!.spanId)
      assert.strictEqual(square!.attributes.get("n"), 3)
      const squareTime = ended(square!)
      const checkTime = ended(check!)
      assert.isTrue(Exit.isSuccess(squareTime.exit))
      // The worker's own times: within the call, the nested span inside its parent, and it slept 5 ms.
      assert.isTrue(squareTime.startTime >= BigInt(before - 1) * 1_000_000n)
      assert.isTrue(squareTime.endTime <= BigInt(after + 1) * 1_000_000n)
      assert.isTrue(checkTime.startTime >= squareTime.startTime && checkTime.endTime <= squareTime.endTime)
      assert.isTrue(checkTime.endTime - checkTime.startTime >= 4_000_000n, "the 5 ms sleep is in the span")

      const line = lines.find((l) => l.message === "squaring 3")
      assert.isDefined(line, "the handler's log line reached the main side's logger")
      assert.strictEqual(line!.level, "Info")
      assert.strictEqual(line!.annotations.task, "square")
      assert.strictEqual(typeof line!.annotations.workerId, "number")
      assert.strictEqual(line!.annotations.step, "start", "the handler's own annotations travel too")
      assert.isTrue(line!.date.getTime() >= before - 1 && line!.date.getTime() <= after + 1)
      assert.isDefined(lines.find((l) => l.message === "debug detail" && l.level === "Debug"))
    }).pipe(Effect.provide(layer()), provide)
  })

  it.effect("a failing span keeps its failure, and the call its typed error", () => {
    const { named, provide } = capture()
    return Effect.gen(function*() {
      const exit = yield* WorkerPool.run(Square, { n: -2 }).pipe(Effect.withSpan("caller"), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag === "Fail" ? (error.error as { _tag: string })._tag : undefined, "Refused")
      const check = ended(named("check")[0]!)
      assert.isTrue(Exit.isFailure(check.exit), "the span failed")
      assert.isTrue(Exit.isFailure(ended(named("square")[0]!).exit))
    }).pipe(Effect.provide(layer()), provide)
  })

  it.effect("the handler runs under the caller's span in the worker", () => {
    const { named, provide } = capture()
    return Effect.gen(function*() {
      const seen = yield* WorkerPool.run(ParentOf).pipe(Effect.withSpan("caller"))
      const [caller] = named("caller")
      assert.deepStrictEqual(seen, { traceId: caller!.traceId, spanId: caller!.spanId })
      // Without a span, nothing is sent: the worker sees none.
      assert.deepStrictEqual(yield* WorkerPool.run(ParentOf), { traceId: "none", spanId: "none" })
    }).pipe(Effect.provide(layer()), provide)
  })
})

describe("without a caller span", () => {
  it.effect("a handler's span is a root of the main side's tracer and its logs still arrive", () => {
    const { lines, named, provide } = capture("Info")
    return Effect.gen(function*() {
      assert.strictEqual(yield* WorkerPool.run(Square, { n: 4 }), 16)
      const [square] = named("square")
      assert.isDefined(square)
      assert.isTrue(Option.isNone(square!.parent))
      assert.strictEqual(parentId(named("check")[0]!), square!.spanId)
      assert.isDefined(lines.find((l) => l.message === "squaring 4" && l.annotations.task === "square"))
      // The main side's minimum level applies to the worker's lines.
      assert.isUndefined(lines.find((l) => l.message === "debug detail"))
    }).pipe(Effect.provide(pools[0]![1]()), provide)
  })
})

describe("bounds", () => {
  it.effect("a call ships at most 64 spans and 64 log lines, and says what it left out", () => {
    const { lines, named, provide } = capture()
    return Effect.gen(function*() {
      yield* WorkerPool.run(Square, { n: 1, spans: 100, logs: 100 }).pipe(Effect.withSpan("caller"))
      // "square" and "check" are among the 102 spans; the first 64 made were kept.
      const replayed = named("square").length + named("check").length +
        Array.from({ length: 100 }, (_, i) => named(`extra-${i}`).length).reduce((a, b) => a + b, 0)
      assert.strictEqual(replayed, 64)
      const fromWorker = lines.filter((l) => l.annotations.task === "square" && !/left out/.test(l.message))
      assert.strictEqual(fromWorker.length, 64)
      const warning = lines.find((l) => /left out 38 spans and 38 log lines/.test(l.message))
      assert.isDefined(warning, lines.map((l) => l.message).slice(-3).join(" | "))
      assert.strictEqual(warning!.level, "Warn")
    }).pipe(Effect.provide(pools[0]![1]()), provide)
  })
})

describe("under Effect's default tracer", () => {
  it.effect("a call under a span sends no span context: the worker sees no parent", () =>
    Effect.gen(function*() {
      const caller = yield* Effect.makeSpan("caller")
      // No span context in the worker: the default tracer exports nothing, so no call pays for ids.
      const seen = yield* WorkerPool.run(ParentOf).pipe(Effect.withParentSpan(caller))
      assert.deepStrictEqual(seen, { traceId: "none", spanId: "none" })
    }).pipe(Effect.provide(pools[0]![1]())))
})

describe("through the orchestrator", () => {
  it.effect("a handler's spans are children of the orchestrator's task span, its logs carry the task", () => {
    const { lines, named, provide, spans } = capture()
    const Test = Orchestrator.layerTest(serve(traced.TracedTasks, traced.handlers)).pipe(
      Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
    )
    return Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      assert.strictEqual(yield* orchestrator.offload(Square, { n: 5 }).pipe(Effect.withSpan("request")), 25)
      const [request] = named("request")
      const task = spans.find((span) => span.name.startsWith("task "))
      const [square] = named("square")
      assert.isDefined(task, spans.map((span) => span.name).join(", "))
      assert.strictEqual(parentId(task!), request!.spanId)
      assert.strictEqual(parentId(square!), task!.spanId)
      assert.strictEqual(square!.traceId, request!.traceId)
      assert.isDefined(lines.find((l) => l.message === "squaring 5" && l.annotations.task === "square"))
    }).pipe(Effect.provide(Test), provide)
  })
})
