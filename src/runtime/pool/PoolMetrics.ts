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
import { counterHooks, gaugeHooks, histogramHooks } from "../metrics/MetricHooks.ts"
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
 * appear: pass the returned `onNewTask` to the dispatcher. `remove` takes every series out of the registry.
 */
export const register = (name: string, context: Context.Context<never>) => {
  const registrations: Array<Metric.Registration> = []
  const onNewTask = (stats: TaskStats): void => {
    const labels = { pool: name, task: stats.name }
    registrations.push(
      Metric.registerUnsafe(
        Metric.withAttributes(metrics.tasksCompleted, labels),
        context,
        counterHooks(() => stats.completed)
      ),
      Metric.registerUnsafe(
        Metric.withAttributes(metrics.tasksFailed, labels),
        context,
        counterHooks(() => stats.failed)
      )
    )
  }
  const attach = (engine: Engine): void => {
    const tagged = <I, S>(metric: Metric.Metric<I, S>) => Metric.withAttributes(metric, { pool: name })
    registrations.push(
      Metric.registerUnsafe(tagged(metrics.workers), context, gaugeHooks(() => engine.stats().workers)),
      Metric.registerUnsafe(tagged(metrics.busyWorkers), context, gaugeHooks(() => engine.stats().busy)),
      Metric.registerUnsafe(tagged(metrics.queueDepth), context, gaugeHooks(() => engine.stats().queued)),
      Metric.registerUnsafe(tagged(metrics.inFlight), context, gaugeHooks(() => engine.stats().inFlight)),
      Metric.registerUnsafe(tagged(metrics.crashes), context, counterHooks(() => engine.crashed)),
      Metric.registerUnsafe(tagged(metrics.bootFailures), context, counterHooks(() => engine.bootFailures)),
      Metric.registerUnsafe(tagged(metrics.utilisation), context, gaugeHooks(() => engine.stats().utilisation)),
      Metric.registerUnsafe(tagged(metrics.waitTime), context, histogramHooks(engine.waitTime)),
      Metric.registerUnsafe(tagged(metrics.runTime), context, histogramHooks(engine.runTime))
    )
  }
  const remove = (): void => {
    for (const registration of registrations) registration.remove()
    registrations.length = 0
  }
  return { onNewTask, attach, remove }
}
