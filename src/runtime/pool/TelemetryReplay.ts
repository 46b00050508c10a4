/**
 * Replays what a worker handler traced and logged (its `OP_TELEMETRY` record, see `worker/CallTelemetry.ts`) in
 * the caller's fiber, as the caller resumes: so spans go to the tracer of the caller's context and logs to its
 * loggers, as if the handler had run there.
 *
 * - Spans are created by the caller's tracer, with the worker's names, kinds, attributes, events, start and end
 *   times and outcome. A span the handler made at top level becomes a child of the caller's current span (same
 *   trace id, its parent span id the caller's span id); nested spans keep their shape. A tracer cannot be given
 *   span ids, so the replayed spans have ids of the main side's tracer, not the worker's.
 * - Log lines go to the caller's loggers with their level, message, date and annotations, plus `task` (the task
 *   name) and `workerId`; the caller's minimum log level applies.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import { telemetryCap } from "../wire/Protocol.ts"
import type { CallTelemetry, WireLog, WireSpan } from "../wire/Protocol.ts"
import { decodeDefect } from "../wire/WireCodec.ts"

const spanExit = (span: WireSpan): Exit.Exit<unknown, unknown> => {
  switch (span.exit) {
    case 0:
      return Exit.void
    case 1:
      return Exit.fail(decodeDefect(span.error))
    case 2:
      return Exit.die(decodeDefect(span.error))
    default:
      return Exit.interrupt()
  }
}

const replaySpans = (
  spans: ReadonlyArray<WireSpan>,
  tracer: Tracer.Tracer,
  parent: Tracer.AnySpan | undefined
): void => {
  const byId = new Map<string, Tracer.Span>()
  const made: Array<readonly [Tracer.Span, WireSpan]> = []
  // In creation order: a span's parent is made before it.
  for (const wire of spans) {
    const own = wire.parent === undefined ? parent : (byId.get(wire.parent) ?? parent)
    const span = tracer.span({
      name: wire.name,
      parent: own === undefined ? Option.none() : Option.some(own),
      annotations: Context.empty(),
      links: [],
      startTime: BigInt(wire.start),
      kind: wire.kind as Tracer.SpanKind,
      root: own === undefined,
      sampled: wire.sampled && own?.sampled !== false
    })
    for (const [key, value] of wire.attributes) span.attribute(key, value)
    for (const [name, time, attributes] of wire.events) span.event(name, BigInt(time), attributes)
    byId.set(wire.id, span)
    made.push([span, wire])
  }
  for (let i = made.length - 1; i >= 0; i--) {
    const [span, wire] = made[i]!
    span.end(BigInt(wire.end), spanExit(wire))
  }
}

const causeOf = (log: WireLog): Cause.Cause<unknown> => {
  if (log.cause === undefined) return Cause.empty
  let cause: Cause.Cause<unknown> = Cause.empty
  for (const [kind, encoded] of log.cause) {
    const error = decodeDefect(encoded)
    cause = Cause.combine(cause, kind === 1 ? Cause.fail(error) : Cause.die(error))
  }
  return cause
}

const replayLog = (log: WireLog, annotations: Record<string, unknown>): Effect.Effect<void> =>
  Effect.annotateLogs(
    Effect.withFiber((fiber) => {
      const logLevel = log.level as LogLevel.LogLevel
      if (LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), logLevel)) return Effect.void
      const options = { message: log.message, logLevel, cause: causeOf(log), fiber, date: new Date(log.date) }
      for (const logger of fiber.getRef(Logger.CurrentLoggers)) logger.log(options)
      return Effect.void
    }),
    { ...log.annotations, ...annotations }
  )

/** Replays `telemetry` of a call of task `task` on worker `workerId` in the current fiber, then is `exit`. */
export const replay = <A, E>(
  telemetry: CallTelemetry,
  task: string,
  workerId: number,
  exit: Exit.Exit<A, E>
): Effect.Effect<A, E> =>
  Effect.withFiber((fiber) => {
    if (telemetry.spans.length > 0 && fiber.getRef(References.TracerEnabled)) {
      replaySpans(
        telemetry.spans,
        fiber.getRef(Tracer.Tracer),
        Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
      )
    }
    const annotations = { task, workerId }
    const effects: Array<Effect.Effect<void>> = []
    for (const log of telemetry.logs) effects.push(replayLog(log, annotations))
    const dropped = telemetry.droppedSpans + telemetry.droppedLogs
    if (dropped > 0) {
      effects.push(
        Effect.logWarning(
          `the worker left out ${telemetry.droppedSpans} spans and ${telemetry.droppedLogs} log lines of this call (it ships at most ${telemetryCap} of each, and no span still open when the call answered)`
        ).pipe(Effect.annotateLogs(annotations))
      )
    }
    return effects.length === 0 ? exit : Effect.andThen(Effect.all(effects, { discard: true }), exit)
  })
