/**
 * The scheduler admits every task the library runs: a queue ordered by priority (`critical` > `high` >
 * `normal` > `low`, first come first served within a level), gated by a number of permits.
 *
 * - **No starvation**: a task that has waited `aging` at its level is promoted one level, and again after
 *   each further `aging`, so under sustained urgent load a `low` task reaches `critical` after
 *   3 × `aging` and then takes its turn.
 * - **Fairness**: tasks may carry a key (tenant, user, host). Within a level, keys take turns (round-robin), and
 *   `perKeyLimit` caps how many tasks of one key run at once, so one key's backlog cannot starve the others.
 *   Tasks without a key share one group, which takes its turn like a key and has no per-key limit.
 * - **Bounded queue**: with `capacity`, at most that many tasks wait in the queue. When it is full,
 *   `overflow: "fail"` rejects the submission at once with `QueueFull`; `overflow: "suspend"` (the default)
 *   suspends the submitter until there is room. Suspended submitters enter the queue in arrival order, so
 *   none of them starves; if every queued task's key is at its limit, a suspended one whose key may run is
 *   admitted directly rather than leave a permit idle.
 * - **Rate limit**: with `rate`, at most `limit` admissions per `interval` (Effect's `RateLimiter`, fixed
 *   window: under a backlog, `limit` tasks start at the beginning of each interval).
 * - **Cancellation**: interrupting a waiting submitter removes its task from the queue at once, and it never
 *   takes a permit; interrupting a running task releases its permit. `resize` changes the permits at run time
 *   (running tasks are never stopped: after a shrink, new tasks wait until enough have finished).
 * - **Shutdown**: when the scope of the scheduler closes, waiting submitters are **interrupted** (their
 *   `submit` ends with an interruption, as if the caller had been interrupted, so its declared error type is
 *   unchanged), later submissions are interrupted at once, and tasks already running finish normally.
 * - **Metrics** (`orchestrator_scheduler_*`, see {@link metrics}): queued per level, waiting for capacity,
 *   running, permits, admitted, rejected, promotions and a wait-time histogram. The series are registered in
 *   the `Metric.MetricRegistry` of the context that builds the scheduler and read from its state when
 *   exported, so recording costs nothing on the admission path. Two schedulers in one registry need distinct
 *   `Metric.CurrentMetricAttributes` when they are built.
 *
 * Cost: submission and admission are O(1) (four FIFO levels of intrusive lists, no sorting); a task that finds
 * a free permit and nobody eligible ahead of it allocates no waiter at all, and a waiter is handed its permit
 * directly by the task that ends, without a Deferred or a dispatcher fiber.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-orchestrator"
 *
 * const program = Effect.gen(function*() {
 *   const scheduler = yield* Scheduler.Scheduler
 *   const report = scheduler.submit(Effect.succeed("report"), { priority: "low", key: "tenant-a" })
 *   const alert = scheduler.submit(Effect.succeed("alert"), { priority: "critical", key: "tenant-b" })
 *   return yield* Effect.all([report, alert], { concurrency: "unbounded" })
 * })
 *
 * program.pipe(Effect.provide(Scheduler.layer({ permits: 4, perKeyLimit: 2, capacity: 10_000 })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import type { Effect, Scope } from "effect"
import type { SchedulerConfigInput } from "../domain/Config.ts"
import type { InvalidConfig } from "../domain/OrchestratorError.ts"
import * as internal from "../runtime/scheduler/SchedulerCore.ts"

export type { SchedulerService, SchedulerStats, SubmitOptions } from "../runtime/scheduler/SchedulerCore.ts"

/** The scheduler's metrics (gauges, counters and the wait-time histogram), named `orchestrator_scheduler_*`. */
export const metrics = internal.metrics

/**
 * Admission of tasks by priority, fairness key, capacity and rate, under a number of permits.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-orchestrator"
 *
 * const resize = Effect.gen(function*() {
 *   const scheduler = yield* Scheduler.Scheduler
 *   yield* scheduler.resize(16)
 *   return yield* scheduler.stats // { permits: 16, running, queued: { critical, high, normal, low }, ... }
 * })
 * ```
 */
export class Scheduler
  extends Context.Service<Scheduler, internal.SchedulerService>()("effect-orchestrator/Scheduler")
{}

/**
 * A scheduler built from `config` (every field optional, see `Config.SchedulerConfig`). Fails with
 * `InvalidConfig` naming the field (`scheduler.permits`, `scheduler.capacity`, `scheduler.rate.limit`, ...)
 * when a value is out of range.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-orchestrator"
 *
 * const program = Scheduler.Scheduler.use((scheduler) => scheduler.submit(Effect.succeed(1))).pipe(
 *   Effect.provide(Scheduler.layer({ permits: 4, rate: { limit: 10, interval: "1 second" } }))
 * )
 * ```
 */
export const layer = (config?: SchedulerConfigInput): Layer.Layer<Scheduler, InvalidConfig> =>
  Layer.effect(Scheduler, make(config))

/**
 * A scheduler for specs: one permit unless `config` says otherwise, so tasks run one at a time in admission
 * order whatever the machine's core count, and an invalid configuration is a defect that fails the spec.
 * Time (aging, rate windows, wait times) comes from the `Clock` in context, so under `it.effect` the
 * `TestClock` drives it: `TestClock.adjust` ages waiters and opens rate windows.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-orchestrator"
 *
 * const program = Scheduler.Scheduler.use((scheduler) => scheduler.submit(Effect.succeed(1))).pipe(
 *   Effect.provide(Scheduler.layerTest())
 * )
 * ```
 */
export const layerTest = (config?: SchedulerConfigInput): Layer.Layer<Scheduler> =>
  Layer.effect(Scheduler, make({ permits: 1, ...config })).pipe(Layer.orDie)

/**
 * Builds a scheduler in the current scope. Closing the scope interrupts the submitters still waiting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-orchestrator"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const scheduler = yield* Scheduler.make({ permits: 2, aging: "5 seconds" })
 *   return yield* scheduler.submit(Effect.succeed(42), { priority: "high" })
 * }))
 * ```
 */
export const make = (config?: SchedulerConfigInput): Effect.Effect<Scheduler["Service"], InvalidConfig, Scope.Scope> =>
  internal.make(config)
