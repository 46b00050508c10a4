/**
 * The span of a task (`task <name>`, attributes `task.id`, `task.kind`, `task.priority`), made cheaply under
 * Effect's default tracer.
 *
 * `Effect.useSpan` costs about 2.3 µs per task on the 2-core VM (measured with `process.threadCpuUsage` over
 * 100 k sequential tasks): the span itself about 1 µs (five context lookups, a closure, an exit finalizer
 * frame), its three attributes 0.4–0.7 µs (a `Map` and three writes), and the context change that makes it
 * the parent 0.8 µs. For an io task of `Effect.sync` that is half of its whole cost in the orchestrator. Under
 * the default tracer, which exports nothing, this module makes the same `Tracer.NativeSpan` the default tracer
 * would, with the same parent, sampling, links, annotations and timing, but fills the attribute map only when
 * somebody reads it (most never do), and leaves ending it ({@link end}) to the task's own exit handler, which
 * exists anyway: about 1 µs in all, the context change included.
 *
 * It covers the common case only and says so by returning undefined: another tracer installed, tracing
 * disabled, a parent span that disables propagation, span annotations from the environment, or trace levels
 * that are not the defaults. Then the caller
 * uses `Effect.useSpan`, which handles all of them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { TaskKind } from "../../domain/TaskKind.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"

const noNanos = BigInt(0)

/** What a task's span is about: the task's id, kind and priority (a `Task` is one). */
export interface SpanSubject {
  readonly id: string
  readonly kind: TaskKind
  readonly priority: TaskPriority
}

type SpanOptions = {
  -readonly [K in keyof ConstructorParameters<typeof Tracer.NativeSpan>[0]]: ConstructorParameters<
    typeof Tracer.NativeSpan
  >[0][K]
}

/** A default-tracer span whose task attributes are written into its map on first read. */
class TaskSpan extends Tracer.NativeSpan {
  readonly #subject: SpanSubject
  /** Its maker, whose clock ends it. */
  readonly #spans: PlainSpans

  constructor(options: SpanOptions, subject: SpanSubject, spans: PlainSpans) {
    super(options)
    this.#subject = subject
    this.#spans = spans
  }

  /** Ends `span` by its maker's clock, read when it was made from the same fiber as `end`'s. */
  static end(span: TaskSpan, exit: Exit.Exit<unknown, unknown>): void {
    span.#spans.end(span, exit)
  }

  override get attributes(): Map<string, unknown> {
    let attributes = this._attributes
    if (attributes === undefined) {
      const subject = this.#subject
      attributes = new Map<string, unknown>([
        ["task.id", subject.id],
        ["task.kind", subject.kind],
        ["task.priority", subject.priority]
      ])
      this._attributes = attributes
    }
    return attributes
  }
}

/**
 * Whether this module can make the spans of tasks run by `fiber`: Effect's default tracer, enabled, at its
 * default levels, with no span annotations from the environment and a parent span (if any) that propagates.
 */
export const isPlain = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer && takesDefaults(fiber.context)

/**
 * Whether spans made in `context` take Effect's defaults, so that a span made by hand with `Effect.withSpan`'s
 * options is the span Effect would make: tracing enabled, the default levels (trace at Info, minimum All, which
 * sample every span whose parent is sampled), no span annotations from the environment (`Effect.annotateSpans`,
 * Effect's to order against the span's own), and a parent span, if any, that propagates. The consumer's job
 * spans (`JobSpan`) use it too, with any tracer.
 */
export const takesDefaults = (context: Context.Context<never>): boolean => {
  if (!Context.get(context, References.TracerEnabled)) return false
  if (
    Context.get(context, Tracer.CurrentTraceLevel) !== "Info" ||
    Context.get(context, Tracer.MinimumTraceLevel) !== "All"
  ) return false
  for (const _ in Context.get(context, References.TracerSpanAnnotations)) return false
  const parent = Context.getOrUndefined(context, Tracer.ParentSpan)
  return parent === undefined || !Context.get(parent.annotations, Tracer.DisablePropagation)
}

/**
 * Makes the spans of tasks run by one fiber that {@link isPlain}, as the default tracer would make them under
 * `Effect.useSpan(name, { attributes })`. What they share (the parent, links, clock and timing) is read once,
 * for a batch of tasks that all start from that fiber while it waits.
 *
 * Its timestamps are the fiber's clock's. Effect's default clock makes a wall-clock nanosecond time from
 * `process.hrtime.bigint()`, `Date.now()` and three `BigInt` operations, about 103 ns a read on the 2-core VM;
 * a span takes two. Under that clock, this reads the same monotonic time and adds the wall-clock offset, taken
 * from the clock once per maker: about 47 ns.
 */
export class PlainSpans {
  private readonly parent: Option.Option<Tracer.AnySpan>
  private readonly sampled: boolean
  private readonly clock: Clock.Clock
  private readonly timing: boolean
  private readonly links: ReadonlyArray<Tracer.SpanLink>
  private options: SpanOptions | undefined = undefined
  /** Wall-clock nanoseconds minus `process.hrtime.bigint()`, under Effect's default clock; else undefined. */
  private readonly origin: bigint | undefined = undefined

  constructor(fiber: Fiber.Fiber<unknown, unknown>) {
    const parent = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    this.parent = parent === undefined ? Option.none() : Option.some(parent)
    this.sampled = parent === undefined || parent.sampled
    const clock = this.clock = fiber.getRef(Clock.Clock)
    this.timing = fiber.getRef(References.TracerTimingEnabled)
    this.links = fiber.getRef(References.TracerSpanLinks)
    if (this.timing && clock === Context.get(Context.empty(), Clock.Clock)) {
      // read before the clock reads its own, so that these times never come before the clock's
      const monotonic = process.hrtime.bigint()
      this.origin = clock.currentTimeNanosUnsafe() - monotonic
    }
  }

  /** The clock's time in nanoseconds, or 0 without timing. */
  private nanos(): bigint {
    if (!this.timing) return noNanos
    const origin = this.origin
    return origin === undefined ? this.clock.currentTimeNanosUnsafe() : process.hrtime.bigint() + origin
  }

  /** Ends `span` with `exit` at the clock's time; once. */
  end(span: Tracer.Span, exit: Exit.Exit<unknown, unknown>): void {
    if (span.status._tag !== "Ended") span.end(this.nanos(), exit)
  }

  /** The span of a task, named `name`, with `subject`'s attributes; it starts now. */
  make(name: string, subject: SpanSubject): Tracer.Span {
    const links = this.links
    // one options object for all of a maker's spans: the span copies what it needs from it as it is made
    const options = this.options ??= {
      name,
      parent: this.parent,
      annotations: Context.empty(),
      links: [],
      startTime: noNanos,
      kind: "internal",
      sampled: this.sampled
    }
    options.name = name
    options.links = links.length === 0 ? [] : links.slice()
    options.startTime = this.nanos()
    return new TaskSpan(options, subject, this)
  }
}

/**
 * The task's span as the default tracer would make it under `Effect.useSpan(name, { attributes })`, or
 * undefined when the fiber's tracing is not the plain default (see the module notes), and the caller must use
 * `Effect.useSpan`.
 */
export const make = (
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  subject: SpanSubject
): Tracer.Span | undefined => isPlain(fiber) ? new PlainSpans(fiber).make(name, subject) : undefined

/**
 * Ends a task's span with the task's own exit (its failure marks the span failed in an exporter), at the
 * clock's time as `Effect.useSpan` would; once.
 */
export const end = (fiber: Fiber.Fiber<unknown, unknown>, span: Tracer.Span, exit: Exit.Exit<unknown, unknown>) => {
  if (span instanceof TaskSpan) return TaskSpan.end(span, exit)
  if (span.status._tag === "Ended") return
  span.end(
    fiber.getRef(References.TracerTimingEnabled) ? fiber.getRef(Clock.Clock).currentTimeNanosUnsafe() : noNanos,
    exit
  )
}
