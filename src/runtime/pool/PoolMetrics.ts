/**
 * The pool's metrics, named `orchestrator_pool_*`; series carry a `pool` attribute (and `task` where noted).
 * They are registered in the context's `Metric.MetricRegistry` and read from the dispatcher's counters on
 * snapshot (see `MetricHooks.ts`), so the per-call path pays nothing for them.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import { defaultDurationBucketsSeconds } from "../../domain/Config.ts"
import { counterHooks, gaugeHooks, histogramHooks, OwnedSeries } from "../metrics/MetricHooks.ts"
import type { TaskStats } from "./Call.ts"
import type { Engine } from "./Dispatch.ts"

/** The pool's metrics, named `orchestrator_pool_*`; series carry a `pool` attribute (and `task` where noted). */
export const metrics = {
  /** Calls answered with a success, per `task`. */
  tasksCompleted: Metric.counter("orchestrator_pool_tasks_completed_total", {
    description: "Calls answered with a success, per task",
    incremental: true
  }),
  /** Calls that failed (typed error, defect, crash, timeout, shutdown), per `task`. */
  tasksFailed: Metric.counter("orchestrator_pool_tasks_failed_total", {
    description: "Calls that failed, per task",
    incremental: true
  }),
  workers: Metric.gauge("orchestrator_pool_workers", { description: "Workers started or starting" }),
  busyWorkers: Metric.gauge("orchestrator_pool_busy_workers", { description: "Workers with a call in flight" }),
  queueDepth: Metric.gauge("orchestrator_pool_queue_depth", { description: "Calls waiting for a worker" }),
  inFlight: Metric.gauge("orchestrator_pool_in_flight", { description: "Calls sent and not answered yet" }),
  crashes: Metric.counter("orchestrator_pool_worker_crashes_total", {
    description: "Workers that died unexpectedly",
    incremental: true
  }),
  bootFailures: Metric.counter("orchestrator_pool_boot_failures_total", {
    description: "Worker boots that failed (once the pool has been up it keeps retrying)",
    incremental: true
  }),
  utilisation: Metric.gauge("orchestrator_pool_utilisation", {
    description: "Share of worker time with a call in flight, over the pool's life (0..1)"
  }),
  /** Time from call to send, in seconds; buckets from the pool's `durationBucketsSeconds`. */
  waitTime: Metric.histogram("orchestrator_pool_wait_time_seconds", {
    description: "Time from call to send, in seconds",
    boundaries: defaultDurationBucketsSeconds
  }),
  /** Time from send to answer, in seconds; buckets from the pool's `durationBucketsSeconds`. */
  runTime: Metric.histogram("orchestrator_pool_run_time_seconds", {
    description: "Time from send to answer, in seconds",
    boundaries: defaultDurationBucketsSeconds
  })
} as const

/**
 * Registers the metrics of pool `name`, read from `engine`. The per-task series are registered as task names
 * appear: pass the returned `onNewTask` to the dispatcher. `freeze`, at the pool's close, keeps every series at
 * its final value (see {@link OwnedSeries}).
 */
export const register = (name: string, context: Context.Context<never>) => {
  const series = new OwnedSeries(context)
  const onNewTask = (stats: TaskStats): void => {
    const labels = { pool: name, task: stats.name }
    series.add(Metric.withAttributes(metrics.tasksCompleted, labels), counterHooks(() => stats.completed))
    series.add(Metric.withAttributes(metrics.tasksFailed, labels), counterHooks(() => stats.failed))
  }
  const attach = (engine: Engine): void => {
    const tagged = <I, S>(metric: Metric.Metric<I, S>) => Metric.withAttributes(metric, { pool: name })
    series.add(tagged(metrics.workers), gaugeHooks(() => engine.stats().workers))
    series.add(tagged(metrics.busyWorkers), gaugeHooks(() => engine.stats().busy))
    series.add(tagged(metrics.queueDepth), gaugeHooks(() => engine.stats().queued))
    series.add(tagged(metrics.inFlight), gaugeHooks(() => engine.stats().inFlight))
    series.add(tagged(metrics.crashes), counterHooks(() => engine.crashed))
    series.add(tagged(metrics.bootFailures), counterHooks(() => engine.bootFailures))
    series.add(tagged(metrics.utilisation), gaugeHooks(() => engine.stats().utilisation))
    series.add(tagged(metrics.waitTime), histogramHooks(engine.waitTime))
    series.add(tagged(metrics.runTime), histogramHooks(engine.runTime))
  }
  /** At the pool's close: every series keeps its final value for an exporter's last flush. */
  const freeze = (): void => series.freeze()
  return { onNewTask, attach, freeze }
}
