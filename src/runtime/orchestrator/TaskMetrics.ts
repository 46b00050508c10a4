/**
 * Task-level metrics of the orchestrator, labelled by task name, kind and priority. They live in Effect's
 * `Metric` registry, so `PrometheusMetrics.format` (or any exporter) sees them with the pool's and the
 * scheduler's own metrics. Durations are in seconds, Prometheus' base unit, over the orchestrator's
 * `durationBucketsSeconds`.
 *
 * Cardinality: every distinct (task, kind, priority) makes one series per counter and, per histogram, one per
 * bucket bound plus `+Inf`, `_sum` and `_count`. Task names should name what a task is (`resize`), never carry an
 * id (`resize-42`): that is what `Task.make`'s `id` is for.
 *
 * Cost: each label set's numbers are plain fields of a {@link Series} that a finished task bumps with a few
 * adds (about 0.1 µs a task); the series is registered once, on first use, with hooks that read those fields
 * when an exporter asks (see `MetricHooks.ts`). Updating Effect metrics per task instead cost about 5 µs (the
 * key of a tagged metric is rebuilt on every update). A recorder belongs to one registry; past
 * {@link maxSeriesNames} task names, further names share the series of the name `"(other)"`, so unbounded
 * names cannot grow the registry without limit.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Metric } from "effect"
import { defaultDurationBucketsSeconds } from "../../domain/Config.ts"
import type { TaskKind } from "../../domain/TaskKind.ts"
import { rank } from "../../domain/TaskPriority.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import { isCancelled, isTimedOut } from "../../domain/TaskResult.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"
import { counterHooks, Histogram, histogramHooks } from "../metrics/MetricHooks.ts"

/** Tasks handed to the orchestrator. */
export const submitted = Metric.counter("orchestrator_tasks_submitted_total", {
  description: "Tasks submitted to the orchestrator",
  incremental: true
})
/** Tasks that succeeded. */
export const succeeded = Metric.counter("orchestrator_tasks_succeeded_total", {
  description: "Tasks that succeeded",
  incremental: true
})
/** Tasks that failed (timeouts included, cancellations not). */
export const failed = Metric.counter("orchestrator_tasks_failed_total", {
  description: "Tasks that failed",
  incremental: true
})
/** Attempts beyond the first. */
export const retried = Metric.counter("orchestrator_tasks_retried_total", {
  description: "Retries (attempts beyond the first)",
  incremental: true
})
/** Tasks whose last attempt timed out. */
export const timedOut = Metric.counter("orchestrator_tasks_timed_out_total", {
  description: "Tasks that timed out",
  incremental: true
})
/** Tasks cancelled before they finished. */
export const cancelled = Metric.counter("orchestrator_tasks_cancelled_total", {
  description: "Tasks cancelled before they finished",
  incremental: true
})
/** Time from submission to start, in seconds; buckets from the orchestrator's `durationBucketsSeconds`. */
export const queueWait = Metric.histogram("orchestrator_task_queue_wait_seconds", {
  description: "Time from submission to start, in seconds",
  boundaries: defaultDurationBucketsSeconds
})
/** Time from start to finish, retries included, in seconds; buckets from `durationBucketsSeconds`. */
export const runTime = Metric.histogram("orchestrator_task_run_seconds", {
  description: "Time from start to finish, retries included, in seconds",
  boundaries: defaultDurationBucketsSeconds
})

/** The labels of a task's series. */
export type TaskLabels = {
  readonly task: string
  readonly kind: TaskKind
  readonly priority: TaskPriority
}

/** Distinct task names that get series of their own in one registry. */
export const maxSeriesNames = 10_000

/** The numbers of one label set, read by the registry on snapshot. */
export class Series {
  submitted = 0
  succeeded = 0
  failed = 0
  retried = 0
  timedOut = 0
  cancelled = 0
  readonly queueWait: Histogram
  readonly runTime: Histogram

  /** `bucketsSeconds`: the histograms' bounds; durations are recorded in milliseconds and reported in seconds. */
  constructor(bucketsSeconds: ReadonlyArray<number> = defaultDurationBucketsSeconds) {
    this.queueWait = new Histogram(bucketsSeconds, 1 / 1000)
    this.runTime = new Histogram(bucketsSeconds, 1 / 1000)
  }

  /** Records the outcome, attempts and timings of a finished task. */
  record(result: TaskResult<unknown, unknown>): void {
    this.recordExit(result.exit, result.attempts, result.queueWaitMillis, result.runMillis)
  }

  /** One attempt's outcome and timings as the worker pool reports a call it ran as a task (`CallObserver`). */
  settled(exit: Exit.Exit<unknown, unknown>, queueWaitMillis: number, runMillis: number): void {
    this.recordExit(exit, 1, queueWaitMillis, runMillis)
  }

  /** The same from its parts, for tasks that finish without a `TaskResult`. */
  recordExit(exit: Exit.Exit<unknown, unknown>, attempts: number, queueWaitMillis: number, runMillis: number): void {
    if (Exit.isSuccess(exit)) this.succeeded++
    else if (isCancelled(exit)) this.cancelled++
    else {
      this.failed++
      if (isTimedOut(exit)) this.timedOut++
    }
    if (attempts > 1) this.retried += attempts - 1
    this.queueWait.record(queueWaitMillis)
    this.runTime.record(runMillis)
  }
}

const kindIndex: Record<TaskKind, number> = { io: 0, cpu: 1, blocking: 2 }

/** The series of one registry, by task name, then kind and priority. */
export class Recorder {
  private readonly byName = new Map<string, Array<Series | undefined>>()
  private readonly context: Context.Context<never>
  private readonly bucketsSeconds: ReadonlyArray<number>

  constructor(context: Context.Context<never>, bucketsSeconds: ReadonlyArray<number> = defaultDurationBucketsSeconds) {
    this.context = context
    this.bucketsSeconds = bucketsSeconds
  }

  /** The series of a label set, registered on first use. */
  series(task: string, kind: TaskKind, priority: TaskPriority): Series {
    let row = this.byName.get(task)
    if (row === undefined) {
      if (this.byName.size >= maxSeriesNames) return this.series("(other)", kind, priority)
      row = new Array(12)
      this.byName.set(task, row)
    }
    const index = kindIndex[kind] * 4 + rank(priority)
    return row[index] ?? (row[index] = this.register({ task, kind, priority }))
  }

  private register(labels: TaskLabels): Series {
    const series = new Series(this.bucketsSeconds)
    const context = this.context
    const counter = (metric: Metric.Counter<number>, read: () => number) =>
      Metric.registerUnsafe(Metric.withAttributes(metric, labels), context, counterHooks(read))
    counter(submitted, () => series.submitted)
    counter(succeeded, () => series.succeeded)
    counter(failed, () => series.failed)
    counter(retried, () => series.retried)
    counter(timedOut, () => series.timedOut)
    counter(cancelled, () => series.cancelled)
    Metric.registerUnsafe(Metric.withAttributes(queueWait, labels), context, histogramHooks(series.queueWait))
    Metric.registerUnsafe(Metric.withAttributes(runTime, labels), context, histogramHooks(series.runTime))
    return series
  }
}

const recorders = new WeakMap<object, Recorder>()

/**
 * The recorder of the registry in `context` (one per registry, created on first use). `bucketsSeconds` applies
 * when this call creates it: the first orchestrator built on a registry chooses the task histograms' buckets.
 */
export const recorderFor = (context: Context.Context<never>, bucketsSeconds?: ReadonlyArray<number>): Recorder => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let recorder = recorders.get(registry)
  if (recorder === undefined) {
    recorder = new Recorder(context, bucketsSeconds)
    recorders.set(registry, recorder)
  }
  return recorder
}

/** Counts one submission in the registry in context. */
export const recordSubmitted = (labels: TaskLabels): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    recorderFor(fiber.context).series(labels.task, labels.kind, labels.priority).submitted++
    return Effect.void
  })

/** Records the outcome, attempts and timings of a finished task in the registry in context. */
export const recordResult = (result: TaskResult<unknown, unknown>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    recorderFor(fiber.context).series(result.name, result.kind, result.priority).record(result)
    return Effect.void
  })
