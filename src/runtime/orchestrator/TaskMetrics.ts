/**
 * Task-level metrics of the orchestrator, labelled by task name, kind and priority. They live in Effect's
 * `Metric` registry, so `PrometheusMetrics.format` (or any exporter) sees them with the pool's and the
 * scheduler's own metrics. Durations are in seconds, Prometheus' base unit.
 *
 * Cardinality: every distinct (task, kind, priority) makes one series per counter and, per histogram, one per
 * bucket bound plus `+Inf`, `_sum` and `_count`. Task names should name what a task is (`resize`), never carry an
 * id (`resize-42`): that is what `Task.make`'s `id` is for.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Metric } from "effect"
import { defaultDurationBucketsSeconds } from "../../domain/Config.ts"
import type { TaskResult } from "../../domain/TaskResult.ts"

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
/** The duration histograms of tasks, over one set of bucket bounds. */
export interface Histograms {
  /** Time from submission to start, in seconds. */
  readonly queueWait: Metric.Metric<number, Metric.HistogramState>
  /** Time from start to finish, retries included, in seconds. */
  readonly runTime: Metric.Metric<number, Metric.HistogramState>
}

/** The duration histograms over the given bucket bounds, in seconds. */
export const histograms = (boundaries: ReadonlyArray<number> = defaultDurationBucketsSeconds): Histograms => ({
  queueWait: Metric.histogram("orchestrator_task_queue_wait_seconds", {
    description: "Time from submission to start, in seconds",
    boundaries
  }),
  runTime: Metric.histogram("orchestrator_task_run_seconds", {
    description: "Time from start to finish, retries included, in seconds",
    boundaries
  })
})

const defaultHistograms = histograms()

/** Time from submission to start, in seconds, over the default buckets. */
export const queueWait = defaultHistograms.queueWait
/** Time from start to finish, retries included, in seconds, over the default buckets. */
export const runTime = defaultHistograms.runTime

/** The labels of a task's series. */
export type TaskLabels = {
  readonly task: string
  readonly kind: string
  readonly priority: string
}

// A metric tagged with attributes is a new object; tasks repeat a handful of label sets, so tag each once.
const tagged = new Map<string, Map<Metric.Metric<any, any>, Metric.Metric<any, any>>>()
const withLabels = <I, S>(metric: Metric.Metric<I, S>, labels: TaskLabels): Metric.Metric<I, S> => {
  const key = `${labels.task}\u0000${labels.kind}\u0000${labels.priority}`
  let byMetric = tagged.get(key)
  if (byMetric === undefined) {
    if (tagged.size > 10_000) tagged.clear() // unbounded task names must not grow this without limit
    byMetric = new Map()
    tagged.set(key, byMetric)
  }
  let found = byMetric.get(metric)
  if (found === undefined) {
    found = Metric.withAttributes(metric, labels)
    byMetric.set(metric, found)
  }
  return found as Metric.Metric<I, S>
}

/** Counts one submission. */
export const recordSubmitted = (labels: TaskLabels): Effect.Effect<void> =>
  Metric.update(withLabels(submitted, labels), 1)

const isTimeout = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((r) => r._tag === "Fail" && (r.error as { _tag?: unknown } | null)?._tag === "TaskTimeout")

const isCancelled = (cause: Cause.Cause<unknown>): boolean =>
  Cause.hasInterruptsOnly(cause) ||
  cause.reasons.some((r) => r._tag === "Fail" && (r.error as { _tag?: unknown } | null)?._tag === "TaskCancelled")

/** Records the outcome, attempts and timings of a finished task (timings in `using`, default buckets if absent). */
export const recordResult = (
  result: TaskResult<unknown, unknown>,
  using: Histograms = defaultHistograms
): Effect.Effect<void> => {
  const labels: TaskLabels = { task: result.name, kind: result.kind, priority: result.priority }
  const outcome = Exit.isSuccess(result.exit)
    ? succeeded
    : isCancelled(result.exit.cause)
    ? cancelled
    : failed
  return Effect.all([
    Metric.update(withLabels(outcome, labels), 1),
    Exit.isFailure(result.exit) && isTimeout(result.exit.cause)
      ? Metric.update(withLabels(timedOut, labels), 1)
      : Effect.void,
    result.attempts > 1 ? Metric.update(withLabels(retried, labels), result.attempts - 1) : Effect.void,
    Metric.update(withLabels(using.queueWait, labels), result.queueWaitMillis / 1000),
    Metric.update(withLabels(using.runTime, labels), result.runMillis / 1000)
  ], { discard: true })
}
