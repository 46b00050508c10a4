/**
 * What a typed call's handler traces and logs in a worker, recorded so that the pool replays it on the main
 * side (see `pool/TelemetryReplay.ts`): the spans it creates (under the caller's span, when the call carried
 * one) and the lines it logs. Each call's fiber runs with one shared tracer and logger that write into the
 * call's own record, found through the fiber's context; a call adds one context entry (two under a span),
 * and a handler that neither traces nor logs ships nothing.
 *
 * Loaded with the typed runtime (it needs `effect`); workers that serve only `offload` never load it.
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import { runForkWith } from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import { encodeDefect, telemetryCap } from "../wire/Protocol.ts"
import type { CallTelemetry, WireLog, WireSpan } from "../wire/Protocol.ts"

/** The telemetry of one call while it runs. */
export class CallRecord {
  spans: Array<Tracer.NativeSpan> | undefined = undefined
  logs: Array<WireLog> | undefined = undefined
  droppedSpans = 0
  droppedLogs = 0
  /** Set once shipped: lines of fibers that outlive the call go to the worker's own logger. */
  closed = false
}

const CurrentCall = Context.Reference<CallRecord | undefined>("effect-orchestrator/worker/CurrentCall", {
  defaultValue: () => undefined
})

const recordOf = (fiber: Fiber.Fiber<unknown, unknown> | undefined): CallRecord | undefined => {
  const record = fiber?.getRef(CurrentCall)
  return record === undefined || record.closed ? undefined : record
}

/** Spans are created by the fiber that runs `withSpan`: the current one, whose context holds the record. */
const tracer = Tracer.make({
  span: (options) => {
    const span = new Tracer.NativeSpan(options)
    const record = recordOf(Fiber.getCurrent())
    if (record !== undefined) {
      const spans = record.spans ??= []
      if (spans.length < telemetryCap) spans.push(span)
      else record.droppedSpans++
    }
    return span
  }
})

/** Reduces a value to what every transport clones (IPC included): primitives, plain arrays and objects. */
const plain = (value: unknown, depth = 0): unknown => {
  if (value === null || value === undefined) return value
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    case "object": {
      if (value instanceof Error) return encodeDefect(value)
      if (value instanceof Date) return value.toISOString()
      if (depth > 4) return String(value)
      if (Array.isArray(value)) return value.slice(0, 100).map((item) => plain(item, depth + 1))
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        try {
          const json = JSON.stringify(value)
          return json === undefined ? String(value) : JSON.parse(json)
        } catch {
          return String(value)
        }
      }
      const out: Record<string, unknown> = {}
      for (const key in value) out[key] = plain((value as Record<string, unknown>)[key], depth + 1)
      return out
    }
    default:
      return String(value)
  }
}

/**
 * Effect's default logger (the first of its default loggers), taken from `References` rather than from
 * `effect/Logger`: a worker that imports `effect/Logger` also loads `FileSystem`, `Stream`, `Channel` and some 20
 * modules more for its file logger, about 3 ms of a typed worker's boot on an idle core and 7 ms on a busy one.
 */
export const defaultLogger: Logger.Logger<unknown, void> = References.CurrentLoggers.defaultValue().values().next()
  .value!

/** A logger, as `Logger.make` makes it (`log` over the shared prototype of Effect's loggers). */
export const makeLogger = <Message, Output>(
  log: (options: Logger.Options<Message>) => Output
): Logger.Logger<Message, Output> => Object.assign(Object.create(Object.getPrototypeOf(defaultLogger)), { log })

const logger = makeLogger<unknown, void>((options) => {
  const record = recordOf(options.fiber)
  if (record === undefined) return defaultLogger.log(options)
  const logs = record.logs ??= []
  if (logs.length >= telemetryCap) {
    record.droppedLogs++
    return
  }
  const message = options.message
  const reasons = options.cause.reasons
  let cause: Array<readonly [1 | 2, unknown]> | undefined
  for (const reason of reasons) {
    if (reason._tag === "Fail") (cause ??= []).push([1, encodeDefect(reason.error)])
    else if (reason._tag === "Die") (cause ??= []).push([2, encodeDefect(reason.defect)])
  }
  logs.push({
    level: options.logLevel,
    message: Array.isArray(message) ? message.map((part) => plain(part)) : [plain(message)],
    annotations: plain(options.fiber.getRef(References.CurrentLogAnnotations)) as Record<string, unknown>,
    date: options.date.getTime(),
    cause
  })
})

/**
 * The context every call's fiber starts from: the recording tracer and logger, and no minimum level of its own,
 * since the main side's logger decides what it keeps (lines below its minimum are dropped there).
 */
const base: Context.Context<never> = Context.makeUnsafe(
  // One flat map, so that each call's context is one entry (two under a span) over it.
  new Map<string, unknown>([
    [Tracer.Tracer.key, tracer],
    [References.CurrentLoggers.key, new Set([logger])],
    [References.MinimumLogLevel.key, "All"]
  ])
)

/**
 * Forks a call's handler with a fresh record; under the caller's span (`traceId`, `spanId`) when it has one, so
 * that the handler's spans join the caller's trace, in the worker too.
 */
export const fork = <A, E>(
  effect: Effect.Effect<A, E>,
  trace: readonly [traceId: string, spanId: string] | undefined
): [Fiber.Fiber<A, E>, CallRecord] => {
  const record = new CallRecord()
  let context = Context.add(base, CurrentCall, record)
  if (trace !== undefined) {
    context = Context.add(context, Tracer.ParentSpan, Tracer.externalSpan({ traceId: trace[0], spanId: trace[1] }))
  }
  return [runForkWith(context)(effect), record]
}

const exitOf = (exit: Exit.Exit<unknown, unknown>): Pick<WireSpan, "exit" | "error"> => {
  if (exit._tag === "Success") return { exit: 0 }
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail") return { exit: 1, error: encodeDefect(reason.error) }
    if (reason._tag === "Die") return { exit: 2, error: encodeDefect(reason.defect) }
  }
  return { exit: 3 }
}

/** Closes a call's record and encodes what it holds for the wire; undefined when there is nothing to ship. */
export const take = (record: CallRecord): CallTelemetry | undefined => {
  record.closed = true
  const recorded = record.spans
  if (recorded === undefined && record.logs === undefined) return undefined
  const spans: Array<WireSpan> = []
  if (recorded !== undefined) {
    const ids = new Set<string>()
    for (const span of recorded) ids.add(span.spanId)
    for (const span of recorded) {
      const status = span.status
      // A span still open when its call answered (a fiber that outlives the call) is not shipped.
      if (status._tag !== "Ended") {
        record.droppedSpans++
        continue
      }
      const parent = span.parent._tag === "Some" && ids.has(span.parent.value.spanId)
        ? span.parent.value.spanId
        : undefined
      spans.push({
        id: span.spanId,
        parent,
        name: span.name,
        kind: span.kind,
        sampled: span.sampled,
        start: status.startTime.toString(),
        end: status.endTime.toString(),
        attributes: Array.from(span.attributes, ([key, value]) => [key, plain(value)] as const),
        events: (span._events ?? []).map(([name, time, attributes]) =>
          [name, time.toString(), plain(attributes) as Record<string, unknown>] as const
        ),
        ...exitOf(status.exit)
      })
    }
  }
  return { spans, logs: record.logs ?? [], droppedSpans: record.droppedSpans, droppedLogs: record.droppedLogs }
}
