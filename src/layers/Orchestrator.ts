/**
 * The orchestrator: one service, built from one validated configuration, that runs every kind of task.
 *
 * - **Lanes**: each task kind has its own lane, a `Scheduler` with its own permits, so blocking calls cannot
 *   starve CPU work and neither can starve io. `cpu` tasks run on the worker pool, `blocking` calls on a pool of
 *   threads of their own, `io` tasks on the main runtime. Every lane shares the configured capacity, overflow,
 *   aging, fairness and rate rules.
 * - **Execution**: a task is admitted by its lane, then runs under its timeout and retry policy
 *   (timeout inside retry inside admission), and ends as a `TaskResult` with its timings and attempts.
 * - **Parallel runs**: `runAll` returns one result per task, so one failure does not sink the rest
 *   (or fails fast when asked).
 * - **Batches**: `batch` for any chunk processor, `batchOffload` to send chunks of items to the workers.
 * - **Background**: `submit` returns a handle to await, poll or cancel; `shutdown` drains with a deadline or
 *   stops at once; closing the layer's scope drains with `background.drainDeadlineMillis`.
 * - **Observability**: task metrics by task, kind and priority, the pool's and schedulers' own metrics,
 *   a `stats` snapshot, the Prometheus text form, and a span per task.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator, Task } from "effect-orchestrator"
 *
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2)
 * }
 *
 * const program = Effect.gen(function*() {
 *   const orchestrator = yield* Orchestrator.Orchestrator
 *   const n = yield* orchestrator.offloadFunction(fib, [30], { priority: "high" })
 *   const results = yield* orchestrator.runAll([
 *     orchestrator.functionTask(fib, [25]),
 *     Task.make(Effect.succeed("io work"), { name: "fetch" })
 *   ])
 *   return { n, results }
 * }).pipe(Effect.provide(Orchestrator.Orchestrator.layer({ pool: { maxWorkers: 2 } })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Metric } from "effect"
import type { Scope } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { OrchestratorConfig } from "../domain/Config.ts"
import type { OrchestratorConfigInput, SchedulerConfigInput } from "../domain/Config.ts"
import { InvalidConfig } from "../domain/OrchestratorError.ts"
import type { PoolShutDown, WorkerBootFailed } from "../domain/OrchestratorError.ts"
import * as Task from "../domain/Task.ts"
import type { TaskKind } from "../domain/TaskKind.ts"
import type { TaskResult } from "../domain/TaskResult.ts"
import type * as WorkerTask from "../domain/WorkerTask.ts"
import { decodeConfig } from "../runtime/config/ConfigValidation.ts"
import * as BackgroundQueue from "../runtime/orchestrator/BackgroundQueue.ts"
import * as Batch from "../runtime/orchestrator/Batch.ts"
import * as TaskExecution from "../runtime/orchestrator/TaskExecution.ts"
import * as TaskMetrics from "../runtime/orchestrator/TaskMetrics.ts"
import { offloadOnly } from "../runtime/worker/Server.ts"
import type { Served } from "../runtime/worker/Server.ts"
import * as Scheduler from "./Scheduler.ts"
import * as WorkerPool from "./WorkerPool.ts"

/** What running a task can add to the task's own errors. */
export type RunError = TaskExecution.ExecutionError

/** What an offloaded call can add to the task's own errors. */
export type OffloadError = RunError | WorkerPool.PoolError

/** Options of `runAll`. */
export interface RunAllOptions {
  /** Tasks in flight at once (admission still applies): a whole number ≥ 1, else `InvalidConfig`. Default 1,024. */
  readonly concurrency?: number | "unbounded"
  /** Fail with the first failure and interrupt the rest, instead of returning every result. */
  readonly failFast?: boolean
}

/** Options of `batchOffload`. */
export interface BatchOffloadOptions extends Batch.BatchOptions {
  /** Priority of the chunks in the cpu lane. */
  readonly priority?: Task.TaskOptions["priority"]
}

/** A snapshot of the whole orchestrator. */
export interface OrchestratorStats {
  readonly lanes: { readonly [K in TaskKind]: Scheduler.SchedulerStats }
  readonly pool: WorkerPool.PoolStats
  readonly blockingPool: WorkerPool.PoolStats
  readonly background: BackgroundQueue.BackgroundStats
}

/** Options of the orchestrator's layer: its configuration plus the worker entry of the cpu pool. */
export interface Options extends OrchestratorConfigInput {
  /**
   * Worker entry of the cpu pool, which calls `serve(group, handlers)` for typed tasks. Default: the built-in
   * entry, which serves only self-contained functions (`offloadFunction`).
   */
  readonly entry?: URL | string | undefined
}

/**
 * The orchestrator service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Effect.gen(function*() {
 *   const orchestrator = yield* Orchestrator.Orchestrator
 *   const handle = yield* orchestrator.submit(orchestrator.blockingTask((ms: number) => {
 *     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
 *     return ms
 *   }, [100]))
 *   return yield* handle.await
 * })
 * ```
 */
export class Orchestrator extends Context.Service<Orchestrator, {
  /** Runs a task in its kind's lane, under its timeout and retry policy; fails with its error. */
  readonly run: <A, E, R>(task: Task.Task<A, E, R>) => Effect.Effect<A, E | RunError, R>
  /** Runs a task and returns its result, failure included. */
  readonly runResult: <A, E, R>(task: Task.Task<A, E, R>) => Effect.Effect<TaskResult<A, E | RunError>, never, R>
  /**
   * Runs many tasks in parallel through their lanes; one result per task, in input order. With `failFast`,
   * fails with the first failure instead and interrupts the tasks still running.
   */
  readonly runAll: <A, E, R>(
    tasks: Iterable<Task.Task<A, E, R>>,
    options?: RunAllOptions
  ) => Effect.Effect<Array<TaskResult<A, E | RunError>>, E | RunError, R>
  /** Runs a typed worker task in the cpu lane. */
  readonly offload: <T extends WorkerTask.Any>(
    task: T,
    payload: WorkerTask.Payload<T>,
    options?: Task.TaskOptions
  ) => Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | OffloadError>
  /** Runs a self-contained function on the cpu pool (see `WorkerPool.offload` for its limits). */
  readonly offloadFunction: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    args: Args,
    options?: Task.TaskOptions
  ) => Effect.Effect<Awaited<R>, OffloadError>
  /** Runs a blocking synchronous call (a self-contained function) on the blocking lane's threads. */
  readonly blocking: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    args: Args,
    options?: Task.TaskOptions
  ) => Effect.Effect<Awaited<R>, OffloadError>
  /** A cpu task for a typed worker task, for `runAll` and `submit`. */
  readonly workerTask: <T extends WorkerTask.Any>(
    task: T,
    payload: WorkerTask.Payload<T>,
    options?: Task.TaskOptions
  ) => Task.Task<WorkerTask.Success<T>, WorkerTask.Error<T> | WorkerPool.PoolError>
  /** A cpu task for a self-contained function, for `runAll` and `submit`. */
  readonly functionTask: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    args: Args,
    options?: Task.TaskOptions
  ) => Task.Task<Awaited<R>, WorkerPool.PoolError>
  /** A blocking task for a self-contained function, for `runAll` and `submit`. */
  readonly blockingTask: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    args: Args,
    options?: Task.TaskOptions
  ) => Task.Task<Awaited<R>, WorkerPool.PoolError>
  /**
   * Maps a self-contained one-argument function over `input` on the workers: items travel in chunks of
   * `batchSize`, one message per chunk, with `concurrency` chunks in flight; results come in input order.
   */
  readonly batchOffload: <A, B, E2 = never, R2 = never>(
    fn: (item: A) => B,
    input: Batch.BatchInput<A, E2, R2>,
    options?: BatchOffloadOptions
  ) => Effect.Effect<Array<Awaited<B>>, OffloadError | E2, R2>
  /** Submits a task to the background pool; the handle awaits, polls or cancels it. */
  readonly submit: <A, E, R>(
    task: Task.Task<A, E, R>
  ) => Effect.Effect<BackgroundQueue.TaskHandle<A, E | RunError>, PoolShutDown, R>
  /** Stops the background pool: drain up to a deadline, or at once. New submissions fail with `PoolShutDown`. */
  readonly shutdown: (mode: BackgroundQueue.ShutdownMode) => Effect.Effect<void>
  readonly stats: Effect.Effect<OrchestratorStats>
  /** Every metric in the registry in Prometheus' text format. */
  readonly prometheus: Effect.Effect<string>
}>()("effect-orchestrator/Orchestrator") {
  /**
   * The orchestrator with real worker threads. Fails with `InvalidConfig` naming the field for a bad
   * configuration, and with `WorkerBootFailed` when workers cannot start.
   */
  static readonly layer = (options: Options = {}): Layer.Layer<Orchestrator, InvalidConfig | WorkerBootFailed> =>
    Layer.effect(Orchestrator, make(options))

  /**
   * The orchestrator with no threads, for specs: cpu and blocking work run in-process through the same
   * schemas, structured clone, cancellation and stats as real workers. Pass what the worker entry's `serve`
   * returns to offload typed tasks. One permit per lane unless configured, so runs are deterministic.
   */
  static readonly layerTest = (
    served?: Served<WorkerTask.Group<WorkerTask.Any>>,
    options: OrchestratorConfigInput = {}
  ): Layer.Layer<Orchestrator, InvalidConfig | WorkerBootFailed> =>
    Layer.effect(Orchestrator, makeWith(options, served ?? "test"))
}

const mapChunk = function mapChunk(source: string, items: ReadonlyArray<unknown>) {
  const cache: Map<string, (item: unknown) => unknown> = ((globalThis as any).__orchestratorMappers ??= new Map())
  let f = cache.get(source)
  if (f === undefined) {
    f = (0, eval)(`(${source})`) as (item: unknown) => unknown
    cache.set(source, f)
  }
  const out = new Array(items.length)
  for (let i = 0; i < items.length; i++) out[i] = f(items[i])
  return out
}

/** Builds the orchestrator in the current scope with real worker threads. */
export const make = (
  options: Options = {}
): Effect.Effect<Orchestrator["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> => makeWith(options, "threads")

const makeWith = (
  options: Options,
  workers: "threads" | "test" | Served<WorkerTask.Group<WorkerTask.Any>>
): Effect.Effect<Orchestrator["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const { entry, ...input } = options
    const inProcess = workers !== "threads"
    const config = yield* decodeConfig(OrchestratorConfig)(
      inProcess ? { ...input, scheduler: { permits: 1, ...input.scheduler } } : input
    )
    const poolOptions: WorkerPool.Options = { ...config.pool, name: "cpu", ...(entry === undefined ? {} : { entry }) }
    const blockingOptions: WorkerPool.Options = {
      name: "blocking",
      // Every blocking thread starts up front: a blocking call should not wait for a thread to boot.
      minWorkers: config.blocking.threads,
      maxWorkers: config.blocking.threads,
      // One call per thread: a blocking call holds its thread until it returns.
      concurrentTasksPerWorker: 1,
      shutdownDeadlineMillis: config.pool.shutdownDeadlineMillis,
      terminationGraceMillis: config.pool.terminationGraceMillis
    }
    const testPool = (served: Served<WorkerTask.Group<WorkerTask.Any>>, poolOptions: WorkerPool.Options) =>
      Effect.map(
        Layer.build(WorkerPool.WorkerPool.layerTest(served, { ...poolOptions, minWorkers: 1, maxWorkers: 1 })),
        (context) => Context.get(context, WorkerPool.WorkerPool)
      )
    const [pool, blockingPool] = workers === "threads"
      ? yield* Effect.all([WorkerPool.make(poolOptions), WorkerPool.make(blockingOptions)], { concurrency: 2 })
      : yield* Effect.all([
        testPool(workers === "test" ? offloadOnly : workers, poolOptions),
        testPool(offloadOnly, blockingOptions)
      ])

    const laneConfig = (permits: number): SchedulerConfigInput => ({ ...config.scheduler, permits })
    // Each lane's metric series carry a `lane` attribute, so three schedulers share one registry without clashing.
    const lane = (name: TaskKind, permits: number) =>
      Effect.provideService(Scheduler.make(laneConfig(permits)), Metric.CurrentMetricAttributes, { lane: name })
    const lanes: { readonly [K in TaskKind]: Scheduler.Scheduler["Service"] } = {
      io: yield* lane("io", config.scheduler.permits),
      cpu: yield* lane("cpu", inProcess ? config.scheduler.permits : config.cpuPermits ?? config.pool.maxWorkers * 2),
      blocking: yield* lane("blocking", inProcess ? config.scheduler.permits : config.blocking.threads)
    }

    // Task metrics go to the registry the orchestrator was built with, beside the pool's and the lanes' own,
    // whichever fiber runs the task.
    const registry = yield* Metric.MetricRegistry
    const runResult = <A, E, R>(task: Task.Task<A, E, R>): Effect.Effect<TaskResult<A, E | RunError>, never, R> => {
      const labels = { task: task.name, kind: task.kind, priority: task.priority }
      return TaskMetrics.recordSubmitted(labels).pipe(
        Effect.provideService(Metric.MetricRegistry, registry),
        Effect.andThen(TaskExecution.execute(task, { admit: lanes[task.kind].submit, defaultRetry: config.retry })),
        Effect.tap((result) =>
          Effect.provideService(TaskMetrics.recordResult(result), Metric.MetricRegistry, registry)
        ),
        Effect.withSpan(`task ${task.name}`, {
          attributes: { "task.id": task.id, "task.kind": task.kind, "task.priority": task.priority }
        })
      )
    }

    const run = <A, E, R>(task: Task.Task<A, E, R>): Effect.Effect<A, E | RunError, R> =>
      Effect.flatMap(runResult(task), (result) => result.exit)

    const runAll = <A, E, R>(
      tasks: Iterable<Task.Task<A, E, R>>,
      options: RunAllOptions = {}
    ): Effect.Effect<Array<TaskResult<A, E | RunError>>, E | RunError, R> => {
      const concurrency = options.concurrency ?? 1_024
      if (concurrency !== "unbounded" && !(Number.isInteger(concurrency) && concurrency >= 1)) {
        return Effect.fail(
          new InvalidConfig({
            field: "runAll.concurrency",
            value: String(concurrency),
            detail: "expected a whole number of at least 1, or \"unbounded\""
          })
        )
      }
      return options.failFast === true
        ? Effect.forEach(
          tasks,
          (task) =>
            Effect.flatMap(
              runResult(task),
              (r): Effect.Effect<TaskResult<A, E | RunError>, E | RunError> =>
                Exit.isSuccess(r.exit) ? Effect.succeed(r) : Effect.failCause(r.exit.cause)
            ),
          { concurrency }
        )
        : Effect.forEach(tasks, runResult, { concurrency })
    }

    const workerTask = <T extends WorkerTask.Any>(
      definition: T,
      payload: WorkerTask.Payload<T>,
      options?: Task.TaskOptions
    ) =>
      Task.make(
        pool.run(definition, ...([payload] as unknown as WorkerPool.RunArgs<T>)),
        { name: definition.name, ...options, kind: "cpu" }
      )

    const functionTask = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: Task.TaskOptions
    ) => Task.make(pool.offload(fn, ...args), { name: fn.name || "function", ...options, kind: "cpu" })

    const blockingTask = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: Task.TaskOptions
    ) => Task.make(blockingPool.offload(fn, ...args), { name: fn.name || "blocking", ...options, kind: "blocking" })

    const batchOffload = <A, B, E2 = never, R2 = never>(
      fn: (item: A) => B,
      input: Batch.BatchInput<A, E2, R2>,
      options: BatchOffloadOptions = {}
    ): Effect.Effect<Array<Awaited<B>>, OffloadError | E2, R2> => {
      const source = fn.toString()
      const { priority, ...batchOptions } = options
      return Batch.run(
        input,
        (chunk) =>
          run(Task.make(pool.offload(mapChunk, source, chunk), {
            name: `batch ${fn.name || "map"}`,
            kind: "cpu",
            ...(priority === undefined ? {} : { priority })
          })) as Effect.Effect<ReadonlyArray<Awaited<B>>, OffloadError>,
        { concurrency: config.pool.maxWorkers * 2, ...batchOptions }
      )
    }

    const background = yield* BackgroundQueue.make<RunError>({
      consumers: config.background.consumers,
      agingMillis: config.scheduler.agingMillis,
      execute: runResult
    })
    // Runs before the lanes and pools close (finalizers run in reverse order), so queued work drains first. A
    // Ctrl-C during the drain (the second, under `NodeRuntime.runMain`) stops it at once.
    yield* Effect.addFinalizer(() =>
      background.shutdown({
        mode: "drain",
        deadlineMillis: config.background.drainDeadlineMillis,
        stopEarly: BackgroundQueue.nextInterruptSignal
      })
    )

    return Orchestrator.of({
      run,
      runResult,
      runAll: runAll as Orchestrator["Service"]["runAll"],
      offload: (definition, payload, options) => run(workerTask(definition, payload, options)),
      offloadFunction: (fn, args, options) => run(functionTask(fn, args, options)),
      blocking: (fn, args, options) => run(blockingTask(fn, args, options)),
      workerTask,
      functionTask,
      blockingTask,
      batchOffload,
      submit: background.submit,
      shutdown: background.shutdown,
      stats: Effect.all({
        lanes: Effect.all({ cpu: lanes.cpu.stats, io: lanes.io.stats, blocking: lanes.blocking.stats }),
        pool: pool.stats,
        blockingPool: blockingPool.stats,
        background: background.stats
      }),
      prometheus: Effect.provideService(PrometheusMetrics.format(), Metric.MetricRegistry, registry)
    })
  })
