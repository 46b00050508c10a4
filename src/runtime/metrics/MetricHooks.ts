/**
 * Metrics read from plain counters on snapshot: the pool and the scheduler keep their numbers in fields that a
 * hot path bumps with one add, and register hooks with `Metric.registerUnsafe` that read those fields when an
 * exporter asks. The per-call path then pays nothing for a metric, however many exporters there are.
 *
 * At its owner's close a series is frozen, not removed ({@link OwnedSeries}): a short-lived program's exporter
 * flushes once more when its own scope closes, after the orchestrator's, and must still find the final values.
 *
 * One histogram for both (fixed boundaries, counts kept in a plain array), in the shape of Effect's own
 * `Metric.HistogramState`, empty state included, so a reader cannot tell it from Effect's histogram.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/**
 * A histogram with fixed boundaries, kept in plain numbers and read by the metric registry on snapshot. Values
 * are recorded in the unit they are measured in (milliseconds, from `performance.now()`) and reported in the
 * unit of the boundaries (seconds, Prometheus' base unit): reported = recorded × `scale`.
 */
export class Histogram {
  /** Upper bounds of the buckets in the reported unit, the last one `+Infinity`. */
  readonly boundaries: ReadonlyArray<number>
  private readonly recordedBounds: ReadonlyArray<number>
  private readonly scale: number
  readonly counts: Array<number>
  count = 0
  sum = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE
  /** `boundaries` as `Metric.histogram` takes them; a last `+Infinity` bucket is added when missing. */
  constructor(boundaries: ReadonlyArray<number>, scale = 1) {
    this.boundaries = boundaries.at(-1) === Number.POSITIVE_INFINITY
      ? boundaries
      : [...boundaries, Number.POSITIVE_INFINITY]
    this.scale = scale
    this.recordedBounds = this.boundaries.map((bound) => bound / scale)
    this.counts = new Array(this.boundaries.length).fill(0)
  }
  record(value: number): void {
    const bounds = this.recordedBounds
    let i = 0
    while (value > bounds[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }
  /** Cumulative buckets, the last one at `+Infinity`; empty, it reads as Effect's own empty histogram. */
  state(): Metric.HistogramState {
    const buckets: Array<[number, number]> = []
    let cumulative = 0
    for (let i = 0; i < this.boundaries.length; i++) {
      cumulative += this.counts[i]!
      buckets.push([this.boundaries[i]!, cumulative])
    }
    const empty = this.count === 0
    return {
      buckets,
      count: this.count,
      min: empty ? this.min : this.min * this.scale,
      max: empty ? this.max : this.max * this.scale,
      sum: this.sum * this.scale
    }
  }
}

const noop = (): void => {}

/** A gauge whose value is read from `read` on snapshot. */
export const gaugeHooks = (read: () => number): Metric.Metric.Hooks<number, Metric.GaugeState<number>> => ({
  get: () => ({ value: read() }),
  update: noop,
  modify: noop
})

/** A counter that only grows, read from `read` on snapshot. */
export const counterHooks = (read: () => number): Metric.Metric.Hooks<number, Metric.CounterState<number>> => ({
  get: () => ({ count: read(), incremental: true }),
  update: noop,
  modify: noop
})

/** A histogram read from `histogram` on snapshot. */
export const histogramHooks = (
  histogram: Histogram
): Metric.Metric.Hooks<number, Metric.HistogramState> => ({
  get: () => histogram.state(),
  update: noop,
  modify: noop
})

/**
 * The read-on-snapshot series of one owner (a pool, a lane). At the owner's close, {@link freeze} makes each one
 * report, from then on, the value it read at that moment, and lets go of what it read from; an exporter's
 * last flush, at its own scope close after the owner's, still finds every final value.
 *
 * A frozen series stays registered until a later owner registers the same metric and attributes (a pool of the
 * same name, the same lane), which replaces it, or until {@link frozenOwnerLimit} owners have frozen after its
 * own, which removes it (unless it was replaced): a program that makes owners with ever new names keeps a
 * bounded number of them.
 */
export class OwnedSeries {
  private readonly context: Context.Context<never>
  private readonly registrations: Array<Metric.Registration> = []
  private readonly freezers: Array<() => void> = []
  private frozen = false

  constructor(context: Context.Context<never>) {
    this.context = context
  }

  /** Registers `metric` (with its attributes) read through `hooks`; after {@link freeze}, nothing is added. */
  add<I, S>(metric: Metric.Metric<I, S>, hooks: Metric.Metric.Hooks<I, S>): void {
    if (this.frozen) return
    let live: ((context: Context.Context<never>) => S) | undefined = hooks.get
    let last: S | undefined = undefined
    this.registrations.push(Metric.registerUnsafe(metric, this.context, {
      get: (context) => live === undefined ? last! : live(context),
      update: noop,
      modify: noop
    }))
    this.freezers.push(() => {
      last = live!(this.context)
      live = undefined
    })
  }

  /** Keeps each series at its value now, for an exporter's last flush. Idempotent. */
  freeze(): void {
    if (this.frozen) return
    this.frozen = true
    for (const freeze of this.freezers) freeze()
    this.freezers.length = 0
    frozenOwners.push(this)
    if (frozenOwners.length > frozenOwnerLimit) frozenOwners.shift()!.remove()
  }

  /** Takes every series out of the registry, unless a later owner's registration replaced it. */
  remove(): void {
    for (const registration of this.registrations) registration.remove()
    this.registrations.length = 0
  }
}

/** How many closed owners keep their frozen series (the oldest one's go when another owner closes). */
export const frozenOwnerLimit = 64

const frozenOwners: Array<OwnedSeries> = []
