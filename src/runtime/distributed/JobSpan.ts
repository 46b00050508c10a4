/**
 * The consumer's span of each job, made before the job's fiber starts rather than inside it.
 *
 * `Effect.withSpan` around the job's effect makes its span inside the fiber and changes the fiber's context
 * twice on the way in (the parent span and the stack frame) and twice on the way out. On a consumer that runs one
 * job now and then, all of that runs cold: measured on the 2-core VM, one job through the Orchestrator to a
 * worker thread and back took 221–246 µs with `withSpan` and 155–173 µs with the span made here (medians of 300,
 * 1.5 ms apart). Here the span is made by the context's tracer from the same options `Effect.withSpan` gives it
 * (name, kind, attributes, parent, links, sampling, start time), and the job's fiber starts in a context that
 * already holds it as the parent span, with the same stack frame; the job's exit ends it.
 *
 * It covers the common case and says so by returning undefined from {@link make}: tracing disabled, trace
 * levels that are not the defaults, span annotations from the environment, or a surrounding span that disables
 * propagation. Then the consumer uses `Effect.withSpan`, which handles all of them.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import * as TaskSpan from "../orchestrator/TaskSpan.ts"

const noNanos = BigInt(0)
const noStack = (): string | undefined => undefined

/** A job's span and the context its fiber runs in. */
export interface Started<R> {
  readonly span: Tracer.Span
  readonly context: Context.Context<R>
}

/** Makes the spans of jobs run in one context (the consumer's), as `Effect.withSpan` would in a fiber of it. */
export interface JobSpans<R> {
  /** Starts the span `name` of kind `kind`, a child of `parent` (else of the context's span, if any). */
  readonly start: (
    name: string,
    kind: Tracer.SpanKind,
    attributes: Readonly<Record<string, unknown>>,
    parent: Tracer.AnySpan | undefined
  ) => Started<R>
  /** Ends `span` with the job's exit, once. */
  readonly end: (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>) => void
}

/** The spans of jobs run in `context`, or undefined when it is not the common case (see the module notes). */
export const make = <R>(context: Context.Context<R>): JobSpans<R> | undefined => {
  if (!TaskSpan.takesDefaults(context as Context.Context<never>)) return undefined
  const ambient = Context.getOrUndefined(context, Tracer.ParentSpan)
  const tracer = Context.get(context, Tracer.Tracer)
  const clock = Context.get(context, Clock.Clock)
  const timing = Context.get(context, References.TracerTimingEnabled)
  const links = Context.get(context, References.TracerSpanLinks)
  const frame = Context.get(context, References.CurrentStackFrame)
  return {
    start: (name, kind, attributes, parent) => {
      const from = parent ?? ambient
      const span = tracer.span({
        name,
        parent: from === undefined ? Option.none() : Option.some(from),
        annotations: Context.empty(),
        links: links.length === 0 ? [] : links.slice(),
        startTime: timing ? clock.currentTimeNanosUnsafe() : noNanos,
        kind,
        root: false,
        sampled: from === undefined || from.sampled
      })
      for (const key in attributes) span.attribute(key, attributes[key])
      const withSpan = Context.add(context, Tracer.ParentSpan, span)
      return {
        span,
        context: Context.add(withSpan, References.CurrentStackFrame, { name, stack: noStack, parent: frame })
      }
    },
    end: (span, exit) => {
      if (span.status._tag === "Ended") return
      span.end(timing ? clock.currentTimeNanosUnsafe() : noNanos, exit)
    }
  }
}
