/**
 * The orchestrator: one service, built from one validated configuration, that runs every kind of task.
 *
 * - **Lanes**: each task kind has its own lane, so blocking calls cannot starve CPU work and neither can
 *   starve io. `io` tasks run on the main runtime and `blocking` calls on threads of their own, each admitted
 *   by a `Scheduler` with its own permits. `cpu` tasks run on the worker pool and wait in one queue only, the
 *   pool's, which applies the same priorities, aging, fairness keys and capacity while it keeps every
 *   worker's pipeline full (a lane of permits in front of it only with `cpuPermits`, `perKeyLimit` or a
 *   rate). Every lane shares the configured capacity, overflow, aging, fairness and rate rules.
 * - **Cost**: a task pays for what it uses: no timeout fiber without a timeout, no retry loop without a policy;
 *   its span and metrics, on by default, cost a few microseconds and a fraction of one (see the README).
 * - **Execution**: a task is admitted by its lane, then runs under its timeout and retry policy
 *   (timeout inside retry inside admission), and ends as a `TaskResult` with its timings and attempts.
 * - **Parallel runs**: `runAll` returns one result per task, so one failure does not sink the rest
 *   (or fails fast when asked).
 * - **Batches**: `batch` for any chunk processor, `batchOffload` to send chunks of items to the workers.
 * - **Background**: `submit` returns a handle to await, poll or cancel; `shutdown` drains with a deadline or
 *   stops at once; closing the layer's scope drains with `background.drainDeadline` (and logs the drain).
 * - **Defaults worth knowing**: `cpuPermits` is 2 × `pool.maxWorkers`; the blocking lane's threads (min(4,
 *   cores)) start with the layer; `pool.minWorkers` is 1; the `retry` of a task or of the orchestrator, once
 *   given, defaults to 3 attempts with jitter 0.2 (set `jitter: 0` for exact delays under the `TestClock`).
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
 * }).pipe(Effect.provide(Orchestrator.layer({ pool: { maxWorkers: 2 } })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Metric, Schema } from "effect"
import type { Scope } from "effect"
import { OrchestratorConfig } from "../domain/Config.ts"
import type { OrchestratorConfigInput, SchedulerConfigInput } from "../domain/Config.ts"
import { InvalidConfig } from "../domain/OrchestratorError.ts"
import type { PoolShutDown, WorkerBootFailed } from "../domain/OrchestratorError.ts"
import * as Task from "../domain/Task.ts"
import type { TaskKind } from "../domain/TaskKind.ts"
import { defaultPriority, levels } from "../domain/TaskPriority.ts"
import type { TaskResult } from "../domain/TaskResult.ts"
import type * as WorkerTask from "../domain/WorkerTask.ts"
import { decodeConfig } from "../runtime/config/ConfigValidation.ts"
import * as MetricHooks from "../runtime/metrics/MetricHooks.ts"
import * as BackgroundQueue from "../runtime/orchestrator/BackgroundQueue.ts"
import * as Batch from "../runtime/orchestrator/Batch.ts"
import * as BatchExecution from "../runtime/orchestrator/BatchExecution.ts"
import * as TaskExecution from "../runtime/orchestrator/TaskExecution.ts"
import * as TaskMetrics from "../runtime/orchestrator/TaskMetrics.ts"
import type { TrackedCallOptions } from "../runtime/pool/CallEncoding.ts"
import * as Placement from "../runtime/pool/Placement.ts"
import { laneOf } from "../runtime/scheduler/SchedulerCore.ts"
import type { Served } from "../runtime/worker/Server.ts"
import * as Scheduler from "./Scheduler.ts"
import * as WorkerPool from "./WorkerPool.ts"

/** What running a task can add to the task's own errors. */
export type RunError = TaskExecution.ExecutionError

/** What an offloaded call can add to the task's own errors. */
export type OffloadError = RunError | WorkerPool.PoolError

/** Options of `runAll`. */
export interface RunAllOptions {
  /**
   * Tasks in flight at once, queued in their lane or running (admission still applies): a positive integer or
   * `"unbounded"`. Default 1,024. Tasks enter by priority, in input order within a level, so a critical task at
   * the end of a large batch does not wait for the ones before it. Of these, at most 64 wait in a lane's queue
   * at once (the others wait in the batch, in the same order): a lane's queue holds a few of a large batch's
   * tasks, beside other submissions, and costs less that way. Anything else fails with `InvalidConfig`
   * (`runAll.concurrency`).
   */
  readonly concurrency?: number | "unbounded" | undefined
  /** Fail with the first failure and interrupt the rest, instead of returning every result. */
  readonly failFast?: boolean | undefined
}

/** Any task, whatever its success, error and requirements. */
export type AnyTask = Task.Task<any, any, any>

/** What `runAll` accepts: a tuple or array of tasks, any iterable of tasks, or a record of tasks. */
export type RunAllInput = ReadonlyArray<AnyTask> | Iterable<AnyTask> | { readonly [key: string]: AnyTask }

/** The result of one task of `runAll`. */
export type ResultOf<T> = T extends Task.Task<infer A, infer E, infer _R> ? TaskResult<A, E | RunError> : never

type ElementOf<T> = T extends ReadonlyArray<infer X> ? X
  : T extends Iterable<infer X> ? X
  : T[keyof T]

/**
 * The results of `runAll`, shaped like its input as with `Effect.all`: a tuple gives a tuple (typed per
 * element), an array or iterable an array, a record a record with the same keys.
 */
export type RunAllResults<T> = T extends ReadonlyArray<AnyTask> ? { -readonly [K in keyof T]: ResultOf<T[K]> }
  : T extends Iterable<infer X> ? Array<ResultOf<X>>
  : { -readonly [K in keyof T]: ResultOf<T[K]> }

/**
 * The error of `runAll`: without `failFast` it cannot fail with a task's error (every failure is in its
 * result), only with `InvalidConfig` for bad options; with `failFast` also the first task error.
 */
export type RunAllError<T, O> =
  | InvalidConfig
  | (O extends { readonly failFast: true } ? TaskError<ElementOf<T>>
    : O extends { readonly failFast: false | undefined } ? never
    // a `boolean` known only at run time
    : O extends { readonly failFast: boolean } ? TaskError<ElementOf<T>>
    : never)

type TaskError<T> = T extends Task.Task<infer _A, infer E, infer _R> ? E | RunError : never

/** What `runAll` needs from its context: the union of its tasks' requirements. */
export type RunAllContext<T> = ElementOf<T> extends Task.Task<infer _A, infer _E, infer R> ? R : never

/** Options of `batchOffload`. */
export interface BatchOffloadOptions extends Batch.BatchOptions {
  /** Priority of the chunks in the pool's queue. */
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
   * Runs many tasks in parallel through their lanes; one result per task, in input order. Like `Effect.all`,
   * a tuple or a record of tasks of different types gives a tuple or a record of results, each typed by its
   * task. Without `failFast` it fails with no task error (each failure is in its result); with `failFast`,
   * it fails with the first failure instead and interrupts the tasks still running.
   *
   * @example
   * ```ts
   * const { page, thumb } = yield* orchestrator.runAll({
   *   page: Task.make(fetchPage, { name: "fetch" }),
   *   thumb: orchestrator.workerTask(Resize, { width: 64 })
   * })
   * // page: TaskResult<string, FetchError | RunError>, thumb: TaskResult<Image, ResizeError | OffloadError>
   * ```
   */
  readonly runAll: <const T extends RunAllInput, const O extends RunAllOptions = {}>(
    tasks: T,
    options?: O
  ) => Effect.Effect<RunAllResults<T>, RunAllError<T, O>, RunAllContext<T>>
  /** Runs a typed worker task on the cpu pool, by its priority in the pool's queue. */
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
  /**
   * Stops the background pool: drain up to a deadline (a `Duration.Input`), or at once. New submissions fail
   * with `PoolShutDown`; a deadline that is not a duration fails with `InvalidConfig` (`shutdown.deadline`).
   */
  readonly shutdown: (mode: BackgroundQueue.ShutdownMode) => Effect.Effect<void, InvalidConfig>
  readonly stats: Effect.Effect<OrchestratorStats>
  /** Every metric in the registry in Prometheus' text format. */
  readonly prometheus: Effect.Effect<string>
}>()("effect-orchestrator/Orchestrator") {}

/**
 * The orchestrator with real worker threads. Fails with `InvalidConfig` naming the field for a bad
 * configuration, and with `WorkerBootFailed` when workers cannot start.
 *
 * @example
 * ```ts
 * import { Orchestrator, WorkerPool } from "effect-orchestrator"
 *
 * const layer = Orchestrator.layer({
 *   entry: WorkerPool.entry(import.meta.url, "./math-worker.ts"),
 *   pool: { maxWorkers: 4, taskTimeout: "30 seconds" },
 *   retry: { maximumAttempts: 3, initialInterval: "200 millis" }
 * })
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<Orchestrator, InvalidConfig | WorkerBootFailed> =>
  Layer.effect(Orchestrator, make(options))

/**
 * The orchestrator with no threads, for specs: cpu and blocking work run in-process through the same
 * schemas, structured clone, cancellation and stats as real workers. Pass what the worker entry's `serve`
 * returns to offload typed tasks. One permit per io and blocking lane unless configured, and one in-process
 * worker that takes cpu calls in the order of the pool's queue, so runs are deterministic.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 * import served from "./math-worker.ts"
 *
 * const program = Orchestrator.offload(Fib, 20).pipe(Effect.provide(Orchestrator.layerTest(served)))
 * ```
 */
export const layerTest = (
  served?: Served<WorkerTask.Group<WorkerTask.Any>>,
  options: OrchestratorConfigInput = {}
): Layer.Layer<Orchestrator, InvalidConfig | WorkerBootFailed> =>
  Layer.effect(Orchestrator, makeWith(options, served ?? "test"))

const decodeBuckets = decodeConfig(
  Schema.Struct({ durationBucketsSeconds: OrchestratorConfig.fields.durationBucketsSeconds })
)

/** Builds the orchestrator in the current scope with real worker threads. */
export const make = (
  options: Options = {}
): Effect.Effect<Orchestrator["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> => makeWith(options, "threads")

const makeWith = (
  options: Options,
  workers: "threads" | "test" | Served<WorkerTask.Group<WorkerTask.Any>>
): Effect.Effect<Orchestrator["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const { entry, ...given } = options
    const inProcess = workers !== "threads"
    // The orchestrator's buckets apply to its pools and lanes too, unless they name their own; checked first, so
    // that a bad bound is reported under the field the user wrote.
    const buckets = given.durationBucketsSeconds
    if (buckets !== undefined) yield* decodeBuckets({ durationBucketsSeconds: buckets })
    const input = buckets === undefined ? given : {
      ...given,
      pool: { durationBucketsSeconds: buckets, ...given.pool },
      scheduler: { durationBucketsSeconds: buckets, ...given.scheduler }
    }
    const config = yield* decodeConfig(OrchestratorConfig)(
      inProcess ? { ...input, scheduler: { permits: 1, ...input.scheduler } } : input
    )
    // The cpu pool's queue is the cpu lane's: the lanes' aging and overflow, and their capacity unless a lane
    // of `cpuPermits` sits in front of it (calls then wait there, bounded by it).
    const { aging, capacity, overflow } = config.scheduler
    const poolOptions: WorkerPool.Options = {
      ...config.pool,
      name: "cpu",
      queue: {
        aging,
        overflow,
        ...(capacity === undefined || config.cpuPermits !== undefined ? {} : { capacity })
      },
      ...(entry === undefined ? {} : { entry })
    }
    const blockingOptions: WorkerPool.Options = {
      name: "blocking",
      // Every blocking thread starts up front: a blocking call should not wait for a thread to boot.
      minWorkers: config.blocking.threads,
      maxWorkers: config.blocking.threads,
      // One call per thread: a blocking call holds its thread until it returns.
      concurrentTasksPerWorker: 1,
      shutdownDeadline: config.pool.shutdownDeadline,
      terminationGrace: config.pool.terminationGrace,
      durationBucketsSeconds: config.pool.durationBucketsSeconds
    }
    // What the built-in entry serves (only `offload`), for in-process pools; not imported from that entry, which
    // calls `serve` when it loads.
    const offloadOnly: Served<WorkerTask.Group<never>> = {
      _tag: "Served",
      group: { _tag: "WorkerTaskGroup", tasks: [] },
      handlers: {},
      attached: false
    }
    const testPool = (served: Served<WorkerTask.Group<WorkerTask.Any>>, poolOptions: WorkerPool.Options) =>
      Effect.map(
        Layer.build(WorkerPool.layerTest(served, { ...poolOptions, minWorkers: 1, maxWorkers: 1 })),
        (context) => Context.get(context, WorkerPool.WorkerPool)
      )
    const [pool, blockingPool] = workers === "threads"
      ? yield* Effect.all([WorkerPool.make(poolOptions), WorkerPool.make(blockingOptions)], { concurrency: 2 })
      : yield* Effect.all([
        testPool(workers === "test" ? offloadOnly : workers, poolOptions),
        testPool(offloadOnly, blockingOptions)
      ])

    const laneConfig = (permits: number, withCapacity: boolean): SchedulerConfigInput => {
      const { capacity, ...rest } = config.scheduler
      return withCapacity && capacity !== undefined ? { ...rest, capacity, permits } : { ...rest, permits }
    }
    // Each lane's metric series carry a `lane` attribute, so three schedulers share one registry without clashing.
    const lane = (name: TaskKind, permits: number, withCapacity = true) =>
      Effect.provideService(Scheduler.make(laneConfig(permits, withCapacity)), Metric.CurrentMetricAttributes, {
        lane: name
      })
    const io = yield* lane("io", config.scheduler.permits)
    const blockingLane = yield* lane("blocking", inProcess ? config.scheduler.permits : config.blocking.threads)
    // cpu tasks wait in the pool's own queue, which orders them by priority, aging and fairness key and bounds
    // them by the capacity, while it keeps every worker's pipeline full: a lane of permits in front of it
    // would cap the calls in flight and queue them twice. A lane remains only for what the pool's queue does
    // not do: a cap on cpu tasks at once (`cpuPermits`), a per-key limit or a rate. Its permits then count
    // tasks handed to the pool, and calls past `cpuPermits` wait in it (with the capacity).
    const cpuLane = config.cpuPermits !== undefined || config.scheduler.perKeyLimit !== undefined ||
        config.scheduler.rate !== undefined
      ? yield* lane("cpu", config.cpuPermits ?? Number.MAX_SAFE_INTEGER, config.cpuPermits !== undefined)
      : undefined
    let cpuHandedOver = 0
    let closed = false
    yield* Effect.addFinalizer(() => Effect.sync(() => closed = true))
    // What the pool may have in flight at most: every worker's pipe at its deepest.
    const pipelineSlots = config.pool.maxWorkers * Placement.deepest(config.pool)
    const cpuStats: Effect.Effect<Scheduler.SchedulerStats> = cpuLane?.stats ?? Effect.map(pool.stats, (p) => ({
      permits: inProcess ? config.pool.concurrentTasksPerWorker : pipelineSlots,
      running: p.inFlight,
      queued: p.queuedByPriority,
      queuedTotal: p.queued - p.waitingForCapacity,
      waitingForCapacity: p.waitingForCapacity,
      admitted: cpuHandedOver,
      rejected: p.rejectedFull,
      promoted: p.promoted,
      shutDown: closed
    }))

    if (cpuLane === undefined) {
      // The cpu lane's series read the pool's queue, where cpu calls wait, under the lane's usual names.
      const context = yield* Effect.context<never>()
      const read = (f: (stats: Scheduler.SchedulerStats) => number) => () => f(Effect.runSync(cpuStats))
      const tagged = <I, S>(metric: Metric.Metric<I, S>, extra: Record<string, string> = {}) =>
        Metric.withAttributes(metric, { lane: "cpu", ...extra })
      const metrics = Scheduler.metrics
      const series = new MetricHooks.OwnedSeries(context)
      for (const priority of levels) {
        series.add(tagged(metrics.queued, { priority }), MetricHooks.gaugeHooks(read((s) => s.queued[priority])))
      }
      series.add(tagged(metrics.waitingForCapacity), MetricHooks.gaugeHooks(read((s) => s.waitingForCapacity)))
      series.add(tagged(metrics.running), MetricHooks.gaugeHooks(read((s) => s.running)))
      series.add(tagged(metrics.permits), MetricHooks.gaugeHooks(read((s) => s.permits)))
      series.add(tagged(metrics.admitted), MetricHooks.counterHooks(read((s) => s.admitted)))
      series.add(tagged(metrics.rejected), MetricHooks.counterHooks(read((s) => s.rejected)))
      series.add(tagged(metrics.promoted), MetricHooks.counterHooks(read((s) => s.promoted)))
      // at close: the final values stay for an exporter's last flush
      yield* Effect.addFinalizer(() => Effect.sync(() => series.freeze()))
    }

    // Task metrics go to the registry the orchestrator was built with, beside the pool's and the lanes' own,
    // whichever fiber runs the task: plain counters read on snapshot (see `TaskMetrics`).
    const registry = yield* Metric.MetricRegistry
    const metrics = TaskMetrics.recorderFor(yield* Effect.context<never>(), config.durationBucketsSeconds)
    const executeOptions: { readonly [K in TaskKind]: TaskExecution.ExecuteOptions } = {
      io: { admit: io.submit, lane: laneOf(io), defaultRetry: config.retry, metrics, span: true },
      cpu: cpuLane === undefined
        ? { defaultRetry: config.retry, metrics, span: true, onStart: () => cpuHandedOver++ }
        : { admit: cpuLane.submit, lane: laneOf(cpuLane), defaultRetry: config.retry, metrics, span: true },
      blocking: {
        admit: blockingLane.submit,
        lane: laneOf(blockingLane),
        defaultRetry: config.retry,
        metrics,
        span: true
      }
    }
    // A kind that is none (from an untyped caller) gets no lane, metrics or span: its task fails with
    // `InvalidConfig` naming `task.kind` before it starts.
    const unknownKind: TaskExecution.ExecuteOptions = {}
    const optionsOf = (task: AnyTask): TaskExecution.ExecuteOptions => executeOptions[task.kind] ?? unknownKind
    const runResult = <A, E, R>(task: Task.Task<A, E, R>): Effect.Effect<TaskResult<A, E | RunError>, never, R> =>
      TaskExecution.execute(task, optionsOf(task))

    const run = <A, E, R>(task: Task.Task<A, E, R>): Effect.Effect<A, E | RunError, R> =>
      Effect.flatMap(runResult(task), (result) => result.exit)

    const runAll = (
      tasks: RunAllInput,
      options: RunAllOptions = {}
    ): Effect.Effect<unknown, unknown, unknown> => {
      const concurrency = options.concurrency ?? 1_024
      if (concurrency !== "unbounded" && !(Number.isInteger(concurrency) && concurrency >= 1)) {
        return Effect.fail(
          new InvalidConfig({
            field: "runAll.concurrency",
            value: String(concurrency),
            detail: "expected a positive integer or \"unbounded\""
          })
        )
      }
      const batch = {
        concurrency: concurrency === "unbounded" ? Infinity : concurrency,
        failFast: options.failFast === true
      }
      if (Symbol.iterator in tasks) {
        const list = Array.isArray(tasks) ? tasks as ReadonlyArray<AnyTask> : Array.from(tasks as Iterable<AnyTask>)
        return BatchExecution.executeAll(list, optionsOf, batch)
      }
      const record = tasks as { readonly [key: string]: AnyTask }
      const keys = Object.keys(record)
      return Effect.map(BatchExecution.executeAll(keys.map((key) => record[key]!), optionsOf, batch), (results) => {
        const out: Record<string, unknown> = {}
        for (let i = 0; i < keys.length; i++) out[keys[i]!] = results[i]
        return out
      })
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

    // The common offload (no timeout, no retry, no cpu lane) goes straight to the pool: see
    // `TaskExecution.directCall` for when, and what it saves. One path for typed tasks (`definition` with its
    // payload) and functions (`fn` with its arguments), with no closure per call.
    const direct = config.retry === undefined && cpuLane === undefined
    const generalOffload = (
      definition: WorkerTask.Any | undefined,
      fn: ((...args: Array<any>) => unknown) | undefined,
      input: any,
      options: Task.TaskOptions | undefined
    ): Effect.Effect<unknown, unknown> =>
      definition !== undefined ? run(workerTask(definition, input, options)) : run(functionTask(fn!, input, options))
    const offloadCall = (
      definition: WorkerTask.Any | undefined,
      fn: ((...args: Array<any>) => unknown) | undefined,
      input: any,
      options: Task.TaskOptions | undefined
    ): Effect.Effect<unknown, unknown> => {
      if (!direct || options?.timeout !== undefined || options?.retry !== undefined) {
        return generalOffload(definition, fn, input, options)
      }
      return Effect.withFiber((fiber) => {
        const callOptions = TaskExecution.directCall(
          fiber,
          options?.name ?? (definition !== undefined ? definition.name : fn!.name || "function"),
          "cpu",
          options?.priority ?? defaultPriority,
          options?.key,
          executeOptions.cpu
        )
        if (callOptions === undefined) return generalOffload(definition, fn, input, options)
        return definition !== undefined
          ? (pool.run as RunUntyped)(definition, input, callOptions)
          : pool.offload(fn!, input, callOptions)
      })
    }
    // `pool.run` with its payload and options as plain arguments, as they are passed to it here.
    type RunUntyped = (
      task: WorkerTask.Any,
      payload: unknown,
      options: TrackedCallOptions
    ) => Effect.Effect<unknown, unknown>
    const offload = <T extends WorkerTask.Any>(
      definition: T,
      payload: WorkerTask.Payload<T>,
      options?: Task.TaskOptions
    ) =>
      offloadCall(definition, undefined, payload, options) as Effect.Effect<
        WorkerTask.Success<T>,
        WorkerTask.Error<T> | OffloadError
      >

    const functionTask = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: Task.TaskOptions
    ) => Task.make(pool.offload(fn, args), { name: fn.name || "function", ...options, kind: "cpu" })

    const offloadFunction = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: Task.TaskOptions
    ) =>
      offloadCall(undefined, fn as (...args: Array<any>) => unknown, args, options) as Effect.Effect<
        Awaited<R>,
        OffloadError
      >

    const blockingTask = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: Task.TaskOptions
    ) => Task.make(blockingPool.offload(fn, args), { name: fn.name || "blocking", ...options, kind: "blocking" })

    const batchOffload = <A, B, E2 = never, R2 = never>(
      fn: (item: A) => B,
      input: Batch.BatchInput<A, E2, R2>,
      options: BatchOffloadOptions = {}
    ): Effect.Effect<Array<Awaited<B>>, OffloadError | E2, R2> => {
      const { priority, ...batchOptions } = options
      return Batch.run(
        input,
        (chunk) =>
          run(Task.make(pool.offloadEach(fn, chunk), {
            name: `batch ${fn.name || "map"}`,
            kind: "cpu",
            ...(priority === undefined ? {} : { priority })
          })) as Effect.Effect<ReadonlyArray<Awaited<B>>, OffloadError>,
        { concurrency: config.pool.maxWorkers * 2, ...batchOptions }
      )
    }

    const background = yield* BackgroundQueue.make<RunError>({
      consumers: config.background.consumers,
      agingMillis: config.scheduler.aging,
      execute: runResult
    })
    // Runs before the lanes and pools close (finalizers run in reverse order), so queued work drains first. A
    // Ctrl-C during the drain (the second, under `NodeRuntime.runMain`) stops it at once.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // The queue itself says what it drains, until when, and what a deadline or a second interrupt cancels.
        const before = yield* background.stats
        const waiting = before.queued + before.running
        // A second interrupt (Ctrl-C) while draining stops the drain at once; every handle still resolves, typed.
        // A decoded deadline is always valid: `orDie` only tells the types so.
        yield* Effect.orDie(background.shutdown({
          mode: "drain",
          deadline: config.background.drainDeadline,
          stopEarly: BackgroundQueue.nextInterruptSignal
        }))
        const after = yield* background.stats
        if (waiting > 0 && after.cancelled === before.cancelled) yield* Effect.logInfo("background tasks drained")
      }).pipe(Effect.annotateLogs({ service: "Orchestrator", queue: "background" }))
    )

    return Orchestrator.of({
      run,
      runResult,
      runAll: runAll as Orchestrator["Service"]["runAll"],
      offload,
      offloadFunction,
      blocking: (fn, args, options) => run(blockingTask(fn, args, options)),
      workerTask,
      functionTask,
      blockingTask,
      batchOffload,
      submit: background.submit,
      shutdown: background.shutdown,
      stats: Effect.all({
        lanes: Effect.all({ cpu: cpuStats, io: io.stats, blocking: blockingLane.stats }),
        pool: pool.stats,
        blockingPool: blockingPool.stats,
        background: background.stats
      }),
      // Loaded on first use: the module brings Effect's HTTP router with it, which a program that never asks
      // for the text form should not pay for at import.
      prometheus: Effect.promise(() => import("effect/observability/PrometheusMetrics")).pipe(
        Effect.flatMap((PrometheusMetrics) =>
          Effect.provideService(PrometheusMetrics.format(), Metric.MetricRegistry, registry)
        )
      )
    })
  })

// Module-level accessors: each runs its namesake on the orchestrator in context, as `WorkerPool.run` does for
// the pool, so a program names `Orchestrator.offload(...)` and lets the layer decide where it runs.

/**
 * Runs a task in its kind's lane, under its timeout and retry policy, on the orchestrator in context; fails
 * with the task's error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator, Task } from "effect-orchestrator"
 *
 * const program = Orchestrator.run(Task.make(Effect.succeed("page"), { name: "fetch", timeout: "2 seconds" }))
 * ```
 */
export const run = <A, E, R>(task: Task.Task<A, E, R>): Effect.Effect<A, E | RunError, R | Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.run(task))

/**
 * Runs a task on the orchestrator in context and returns its `TaskResult` (exit, timings, attempts), failure
 * included.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator, Task } from "effect-orchestrator"
 *
 * const program = Effect.map(
 *   Orchestrator.runResult(Task.make(Effect.succeed(1), { name: "one" })),
 *   (result) => result.queueWaitMillis
 * )
 * ```
 */
export const runResult = <A, E, R>(
  task: Task.Task<A, E, R>
): Effect.Effect<TaskResult<A, E | RunError>, never, R | Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.runResult(task))

/**
 * Runs many tasks in parallel through their lanes on the orchestrator in context; typed like `Effect.all`: a
 * tuple or a record of tasks gives a tuple or a record of results, each typed by its task. Without `failFast`
 * it fails with no task error (each failure is in its result).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator, Task } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const { page, n } = yield* Orchestrator.runAll({
 *     page: Task.make(Effect.succeed("<html>"), { name: "fetch" }),
 *     n: Orchestrator.workerTask(Fib, 30)
 *   })
 *   return [page.exit, n.exit]
 * })
 * ```
 */
export const runAll = <const T extends RunAllInput, const O extends RunAllOptions = {}>(
  tasks: T,
  options?: O
): Effect.Effect<RunAllResults<T>, RunAllError<T, O>, RunAllContext<T> | Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.runAll(tasks, options))

/**
 * Runs a typed worker task as an orchestrator task, now: on the cpu pool of the orchestrator in context, with
 * the task's priority, retry, timeout, metrics and span.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Orchestrator.offload(Fib, 35, { priority: "high", timeout: "10 seconds" })
 * ```
 */
export const offload = <T extends WorkerTask.Any>(
  task: T,
  payload: WorkerTask.Payload<T>,
  options?: Task.TaskOptions
): Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | OffloadError, Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.offload(task, payload, options))

/**
 * Runs a self-contained function with `args` as an orchestrator task on the cpu pool, now (see
 * `WorkerPool.offload` for what self-contained means).
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2)
 * }
 *
 * const program = Orchestrator.offloadFunction(fib, [30], { priority: "low" })
 * ```
 */
export const offloadFunction = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  args: Args,
  options?: Task.TaskOptions
): Effect.Effect<Awaited<R>, OffloadError, Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.offloadFunction(fn, args, options))

/**
 * Runs a blocking synchronous call (a self-contained function) with `args` on the blocking lane's threads, now.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Orchestrator.blocking((ms: number) => {
 *   Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
 *   return ms
 * }, [100])
 * ```
 */
export const blocking = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  args: Args,
  options?: Task.TaskOptions
): Effect.Effect<Awaited<R>, OffloadError, Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.blocking(fn, args, options))

/**
 * A cpu `Task` for a typed worker task, to pass to `runAll` or `submit`: nothing runs until then. It runs on
 * the orchestrator that runs it (the one in context), so it needs `Orchestrator`; the service's own
 * `workerTask` gives the same task without that requirement.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Effect.flatMap(
 *   Orchestrator.submit(Orchestrator.workerTask(Fib, 40, { priority: "low" })),
 *   (handle) => handle.await
 * )
 * ```
 */
export const workerTask = <T extends WorkerTask.Any>(
  task: T,
  payload: WorkerTask.Payload<T>,
  options?: Task.TaskOptions
): Task.Task<WorkerTask.Success<T>, WorkerTask.Error<T> | WorkerPool.PoolError, Orchestrator> =>
  Task.make(
    Orchestrator.use((orchestrator) => orchestrator.workerTask(task, payload, options).effect),
    { name: task.name, ...options, kind: "cpu" }
  )

/**
 * A cpu `Task` for a self-contained function and its `args`, to pass to `runAll` or `submit`; it needs
 * `Orchestrator`, as {@link workerTask} does.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2)
 * }
 *
 * const program = Orchestrator.runAll([30, 31, 32].map((n) => Orchestrator.functionTask(fib, [n])))
 * ```
 */
export const functionTask = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  args: Args,
  options?: Task.TaskOptions
): Task.Task<Awaited<R>, WorkerPool.PoolError, Orchestrator> =>
  Task.make(
    Orchestrator.use((orchestrator) => orchestrator.functionTask(fn, args, options).effect),
    { name: fn.name || "function", ...options, kind: "cpu" }
  )

/**
 * A blocking `Task` for a self-contained function and its `args`, to pass to `runAll` or `submit`; it needs
 * `Orchestrator`, as {@link workerTask} does.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const sleepFor = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
 * const program = Orchestrator.runAll([Orchestrator.blockingTask(sleepFor, [50]), Orchestrator.blockingTask(sleepFor, [50])])
 * ```
 */
export const blockingTask = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  args: Args,
  options?: Task.TaskOptions
): Task.Task<Awaited<R>, WorkerPool.PoolError, Orchestrator> =>
  Task.make(
    Orchestrator.use((orchestrator) => orchestrator.blockingTask(fn, args, options).effect),
    { name: fn.name || "blocking", ...options, kind: "blocking" }
  )

/**
 * Maps a self-contained one-argument function over `input` on the workers of the orchestrator in context, in
 * chunks of `batchSize` items (one message per chunk); results come in input order.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Orchestrator.batchOffload((n: number) => n * n, [1, 2, 3, 4], { batchSize: 2 })
 * ```
 */
export const batchOffload = <A, B, E2 = never, R2 = never>(
  fn: (item: A) => B,
  input: Batch.BatchInput<A, E2, R2>,
  options?: BatchOffloadOptions
): Effect.Effect<Array<Awaited<B>>, OffloadError | E2, R2 | Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.batchOffload(fn, input, options))

/**
 * Submits a task to the background pool of the orchestrator in context; the handle awaits, polls or cancels
 * it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator, Task } from "effect-orchestrator"
 *
 * const program = Effect.gen(function*() {
 *   const handle = yield* Orchestrator.submit(Task.make(Effect.succeed("report"), { name: "report" }))
 *   return yield* handle.await
 * })
 * ```
 */
export const submit = <A, E, R>(
  task: Task.Task<A, E, R>
): Effect.Effect<BackgroundQueue.TaskHandle<A, E | RunError>, PoolShutDown, R | Orchestrator> =>
  Orchestrator.use((orchestrator) => orchestrator.submit(task))

/**
 * Stops the background pool of the orchestrator in context: drain up to a deadline (a `Duration.Input`), or at
 * once; new submissions then fail with `PoolShutDown`.
 *
 * @example
 * ```ts
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Orchestrator.shutdown({ mode: "drain", deadline: "5 seconds" })
 * ```
 */
export const shutdown = (
  mode: BackgroundQueue.ShutdownMode
): Effect.Effect<void, InvalidConfig, Orchestrator> => Orchestrator.use((orchestrator) => orchestrator.shutdown(mode))

/**
 * A snapshot of the orchestrator in context: its lanes, both pools and the background queue.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Effect.map(Orchestrator.stats, (stats) => stats.pool.queued)
 * ```
 */
export const stats: Effect.Effect<OrchestratorStats, never, Orchestrator> = Orchestrator.use((orchestrator) =>
  orchestrator.stats
)

/**
 * Every metric in the registry of the orchestrator in context, in Prometheus' text format.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Orchestrator } from "effect-orchestrator"
 *
 * const program = Effect.flatMap(Orchestrator.prometheus, (text) => Effect.log(text))
 * ```
 */
export const prometheus: Effect.Effect<string, never, Orchestrator> = Orchestrator.use((orchestrator) =>
  orchestrator.prometheus
)
