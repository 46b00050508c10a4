/**
 * The worker pool: offload CPU-heavy work from an Effect program to worker threads (or child processes) and
 * get a typed Effect back.
 *
 * What it promises:
 * - **Typed tasks**: `run(task, payload)` with a `WorkerTask` definition shared with the worker entry; the
 *   payload is validated and encoded before anything is sent, and the worker's typed error arrives as the same
 *   class (`instanceof` and `Effect.catchTag` work). Defects arrive as defects, with message and stack.
 * - **Ad hoc functions**: `offload(fn, [args], options?)` runs a self-contained function in a worker (see
 *   {@link offload}); its arguments come as an array, as everywhere in the library.
 * - **Throughput**: calls are pipelined into busy workers (up to `concurrentTasksPerWorker`, or
 *   `pipelineDepth` for tasks that complete without suspending) while their estimated work stays small, and
 *   leave in batches, so tiny tasks are not bound by round trips; CPU-bound calls are spread over idle
 *   workers instead of queued behind one another.
 * - **Event loop first**: while every core is busy, workers hold no next call and never spin before they
 *   wait, so the event loop gets a core between calls; `niceIncrement` (0-19) lowers the workers' OS
 *   scheduling priority, so that the OS runs your event loop before them (a thread worker renices itself on
 *   Linux; a child-process worker its process on any OS). Measured in `npm run bench -- http`.
 * - **Cancellation and timeouts**: interrupting a caller removes a queued call at once and interrupts a running
 *   one in its worker; `timeout` (or the pool's `taskTimeout`) fails the call with `TaskTimeout`. A call
 *   that does not stop within `terminationGrace` gets its worker terminated and replaced.
 * - **Crash isolation**: a worker that exits, throws an uncaught error or runs out of memory fails its own
 *   calls with `WorkerCrashed` (exit code, reason); it is replaced with exponential backoff.
 * - **Boot check**: building the layer starts one worker and waits for it to be ready; it fails with
 *   `WorkerBootFailed`, carrying the worker's own error, when workers cannot start.
 * - **Hygiene**: `minWorkers`..`maxWorkers` workers (default `os.availableParallelism()`), idle workers above
 *   `minWorkers` stopped after `idleTimeout`, `resourceLimits`, recycling after `maxTasksPerWorker` calls
 *   or above `maxHeapMb` of heap.
 * - **Shutdown**: when the scope closes, new calls fail with `PoolShutDown`, accepted calls may finish until
 *   `shutdownDeadline`, then the rest fail with `PoolShutDown`; the finalizer returns once every worker
 *   has exited.
 * - **Logs** (through Effect's `Logger`, annotated with `pool`): a crash is a warning (`workerId`, `reason`,
 *   `failedCalls`) and its replacement info; a failed boot is a warning (`attempt`, `maxAttempts`), giving up
 *   after `maxBootFailures` an error; a shutdown with accepted calls logs its drain. They go to the loggers and
 *   minimum level of the context the layer is built in.
 * - **Tracing across the boundary**: a call made under a span runs its handler under that span in the worker;
 *   the spans the handler makes and the lines it logs are replayed in the caller's fiber as it resumes, into the
 *   tracer and loggers of the caller's context (log lines annotated with `task` and `workerId`), at most 64 of
 *   each per call. See `docs/observability.md`.
 * - **Which worker**: each call writes the id of its worker into the caller's `WorkerAssignment` cell, if its
 *   context has one (the orchestrator reports it as `TaskResult.workerId`).
 * - **Metrics** (`orchestrator_pool_*`, attribute `pool`; see {@link metrics}): wait and run time histograms
 *   in seconds over `durationBucketsSeconds`, read from the pool's counters on snapshot, so the per-call path
 *   pays nothing for them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* WorkerPool.run(Fib, 30)
 *   const b = yield* WorkerPool.offload((n: number) => n * 2, [21])
 *   return a + b
 * })
 *
 * program.pipe(
 *   Effect.provide(WorkerPool.layer({ entry: WorkerPool.entry(import.meta.url, "./math-worker.ts"), maxWorkers: 4 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Duration, Scope } from "effect"
import { PoolConfig, SchedulerConfig } from "../domain/Config.ts"
import type { PoolConfigInput } from "../domain/Config.ts"
import { InvalidConfig } from "../domain/OrchestratorError.ts"
import type {
  PayloadInvalid,
  PoolShutDown,
  QueueFull,
  TaskCancelled,
  TaskTimeout,
  UnknownTask,
  WorkerBootFailed,
  WorkerCrashed
} from "../domain/OrchestratorError.ts"
import type { TaskPriority } from "../domain/TaskPriority.ts"
import type * as WorkerTask from "../domain/WorkerTask.ts"
import { decodeConfig } from "../runtime/config/ConfigValidation.ts"
import { plainPoolConfig } from "../runtime/config/PlainPoolConfig.ts"
import type { Resume } from "../runtime/pool/Call.ts"
import { makeCallers } from "../runtime/pool/CallEncoding.ts"
import type { CallQueueOptions } from "../runtime/pool/CallQueue.ts"
import { Engine } from "../runtime/pool/Dispatch.ts"
import type { PoolEvent } from "../runtime/pool/Dispatch.ts"
import * as PoolMetrics from "../runtime/pool/PoolMetrics.ts"
import type { PoolStats } from "../runtime/pool/PoolStats.ts"
import { configBoot, inProcessSpawner, spawnerFor } from "../runtime/pool/Transport.ts"
import type { Spawner } from "../runtime/pool/Transport.ts"
import type { Served } from "../runtime/worker/Server.ts"

export type { PoolStats } from "../runtime/pool/PoolStats.ts"

/** Every error the pool itself can fail a call with (besides the task's own typed error). */
export type PoolError =
  | PoolShutDown
  | WorkerBootFailed
  | WorkerCrashed
  | TaskTimeout
  | TaskCancelled
  | UnknownTask
  | PayloadInvalid
  | InvalidConfig
  | QueueFull

/** Options of one call. */
export interface RunOptions {
  /**
   * Hard limit on the call's time on a worker (from the moment it is sent); the pool's `taskTimeout`
   * when absent. Past it the call fails with `TaskTimeout` and its fiber in the worker is interrupted.
   */
  readonly timeout?: Duration.Input | undefined
  /** Identifier reported in `TaskTimeout`/`TaskCancelled`; default `<task name>#<call number>`. */
  readonly taskId?: string | undefined
  /**
   * Its place in the pool's queue while every worker's pipeline is full: `critical` calls are sent before the
   * `low` ones still waiting. Default: the priority of the orchestrator task the call belongs to, or `normal`.
   */
  readonly priority?: TaskPriority | undefined
  /** Fairness key while it waits: within a level, keys take turns. Default: the orchestrator task's key. */
  readonly key?: string | undefined
}

/**
 * How calls wait for a worker: the scheduler's aging, capacity and overflow settings (see
 * `Config.SchedulerConfig`), applied to the pool's own queue.
 */
export interface QueueOptions {
  /** A call that waited this long at its level is promoted one level. Default 10 s. */
  readonly aging?: Duration.Input | undefined
  /** Calls waiting at most; default unbounded. */
  readonly capacity?: number | undefined
  /** At capacity: `"suspend"` (default) holds the call until there is room; `"fail"` rejects it with `QueueFull`. */
  readonly overflow?: "suspend" | "fail" | undefined
}

/** The arguments of `run` after the task: the payload (optional when the task takes none) and the options. */
export type RunArgs<T extends WorkerTask.Any> = void extends WorkerTask.Payload<T>
  ? [payload?: WorkerTask.Payload<T>, options?: RunOptions]
  : [payload: WorkerTask.Payload<T>, options?: RunOptions]

/** Options of a pool: its configuration (see `Config.PoolConfig`) plus where the workers come from. */
export interface Options extends PoolConfigInput {
  /**
   * The worker entry file, which calls `serve(group, handlers)`. `.ts` entries run with Node's type stripping
   * (erasable syntax only); from a build, the `.js` file must be named: {@link entry}
   * (`WorkerPool.entry(import.meta.url, "./worker.ts")`) names the right one in both cases.
   * Default: a built-in entry that serves only `offload`.
   */
  readonly entry?: URL | string | undefined
  /** Names the workers (`<name>-<n>`) and labels the metrics (`pool` attribute). Default `"default"`. */
  readonly name?: string | undefined
  /** Node options of the workers; default: those of this process. */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Extra environment variables of the workers. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * Whether workers turn on Node's module compile cache (stored where `NODE_COMPILE_CACHE` says or in the system's
   * temporary folder's `node-compile-cache`) before loading the entry. It roughly halves the boot time of every
   * worker after the first. The pool turns it on by setting `NODE_COMPILE_CACHE` in the workers' environment (so
   * that a TypeScript entry loads from the cache without Node's TypeScript stripper; child processes the workers
   * start inherit it). Default true; `NODE_DISABLE_COMPILE_CACHE=1` also turns it off.
   */
  readonly compileCache?: boolean | undefined
  /** How calls wait for a worker (priorities always apply); invalid values fail with `InvalidConfig` (`pool.queue.*`). */
  readonly queue?: QueueOptions | undefined
}

/**
 * The pool service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerPool.WorkerPool
 *   const n = yield* pool.run(Fib, 30, { timeout: "2 seconds" })
 *   const stats = yield* pool.stats // { workers, busy, queued, inFlight, completed, failed, ... }
 *   return { n, stats }
 * })
 * ```
 */
export class WorkerPool extends Context.Service<WorkerPool, {
  /**
   * Runs a task on a worker. Fails at once, before anything is sent, with `UnknownTask` (no worker serves that
   * name), `PayloadInvalid` (schema or not cloneable), `PoolShutDown` or `WorkerBootFailed` (pool broken).
   */
  readonly run: <T extends WorkerTask.Any>(
    task: T,
    ...args: RunArgs<T>
  ) => Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | PoolError>
  /** Runs a self-contained function on a worker with `args`; see the module-level {@link offload}. */
  readonly offload: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    args: Args,
    options?: RunOptions
  ) => Effect.Effect<Awaited<R>, PoolError>
  /**
   * Applies a self-contained one-argument function to each item in one call: the items travel together, the
   * function is compiled once per worker, and the call answers the results in order (awaited when promises).
   * The function's limits are {@link offload}'s.
   */
  readonly offloadEach: <A, B>(
    fn: (item: A) => B,
    items: ReadonlyArray<A>
  ) => Effect.Effect<Array<Awaited<B>>, PoolError>
  /** Workers, busy workers, queue depth, calls in flight, completed and failed calls, utilisation. */
  readonly stats: Effect.Effect<PoolStats>
}>()("effect-orchestrator/WorkerPool") {}

/**
 * A pool of worker threads (or child processes with `mode: "process"`). Fails with `InvalidConfig` for a bad
 * option and with `WorkerBootFailed` when the workers cannot start.
 *
 * @example
 * ```ts
 * import { WorkerPool } from "effect-orchestrator"
 *
 * const layer = WorkerPool.layer({
 *   entry: WorkerPool.entry(import.meta.url, "./math-worker.ts"),
 *   maxWorkers: 4,
 *   idleTimeout: "1 minute"
 * })
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<WorkerPool, InvalidConfig | WorkerBootFailed> =>
  Layer.effect(WorkerPool, make(options))

/**
 * The same handlers, run in this thread by an in-process worker: no threads, but every payload, answer and
 * error still goes through the schemas and structured clone, and timeouts, cancellation, stats and metrics
 * behave as in a real pool. For users' specs. Defaults: one worker; options as in {@link layer} (`entry`,
 * `mode`, `resourceLimits`, `execArgv` and `env` do not apply). Accepts what `serve` returns, or a group and
 * its handlers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 * import served from "./math-worker.ts"
 *
 * const program = WorkerPool.run(Fib, 20).pipe(Effect.provide(WorkerPool.layerTest(served)))
 * ```
 */
export const layerTest: {
  <G extends WorkerTask.Group<WorkerTask.Any>>(
    served: Served<G>,
    options?: Options
  ): Layer.Layer<WorkerPool, InvalidConfig | WorkerBootFailed>
  <G extends WorkerTask.Group<WorkerTask.Any>>(
    group: G,
    handlers: NoInfer<WorkerTask.Handlers<G>>,
    options?: Options
  ): Layer.Layer<WorkerPool, InvalidConfig | WorkerBootFailed>
} = (...args: Array<any>) => {
  const [group, handlers, options] = args[0]._tag === "Served"
    ? [args[0].group, args[0].handlers, args[1] as Options | undefined]
    : [args[0], args[1], args[2] as Options | undefined]
  return Layer.effect(WorkerPool, makeTest(group, handlers, options))
}

const QueueConfig = Schema.Struct({
  aging: SchedulerConfig.fields.aging,
  capacity: SchedulerConfig.fields.capacity,
  overflow: SchedulerConfig.fields.overflow
})
const decodeQueueConfig = decodeConfig(QueueConfig, "pool.queue")
// The call queue keeps its aging in milliseconds, as the decoded configuration does.
const decodeQueue = (input: QueueOptions | undefined): Effect.Effect<CallQueueOptions, InvalidConfig> =>
  Effect.map(decodeQueueConfig(input), ({ aging, ...rest }) => ({ ...rest, agingMillis: aging }))
const configKeys = Object.keys(PoolConfig.fields) as ReadonlyArray<keyof PoolConfigInput>

const configOf = (options: Options): PoolConfigInput => {
  const config: Record<string, unknown> = {}
  for (const key of configKeys) if (options[key] !== undefined) config[key] = options[key]
  return config as PoolConfigInput
}

/**
 * Builds a pool in the current scope; closing the scope shuts it down gracefully (see the module notes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make({ maxWorkers: 2 })
 *   return yield* pool.offload((a: number, b: number) => a * b, [6, 7])
 * }))
 * ```
 */
export const make = (
  options: Options = {}
): Effect.Effect<WorkerPool["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const input = configOf(options)
    // Plain numbers need no schema (whose first decode would delay the first worker's start by milliseconds).
    const config = plainPoolConfig(input) ?? (yield* decodeConfig(PoolConfig, "pool")(input))
    const name = options.name ?? "default"
    const queue = yield* decodeQueue(options.queue)
    const spawner = spawnerFor({ ...options, name }, config)
    if (spawner instanceof InvalidConfig) return yield* spawner
    return yield* build(config, queue, spawner, name, config.mode !== "process")
  })

const makeTest = <G extends WorkerTask.Group<WorkerTask.Any>>(
  group: G,
  handlers: WorkerTask.Handlers<G>,
  options: Options = {}
): Effect.Effect<WorkerPool["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* decodeConfig(PoolConfig, "pool")({ minWorkers: 1, maxWorkers: 1, ...configOf(options) })
    const queue = yield* decodeQueue(options.queue)
    return yield* build(
      config,
      queue,
      inProcessSpawner(group, handlers, configBoot(config)),
      options.name ?? "test",
      true
    )
  })

/** The pool's metrics, named `orchestrator_pool_*`; series carry a `pool` attribute (and `task` where noted). */
export const metrics = PoolMetrics.metrics

/** The log line of a pool event: a crash is a warning, a pool that cannot boot an error. */
const logLine = (event: PoolEvent): Effect.Effect<void> => {
  switch (event._tag) {
    case "WorkerCrashed": {
      const { error } = event
      return Effect.logWarning(
        `worker ${error.workerId} crashed (${error.detail}); ${event.calls} of its calls failed with WorkerCrashed, a replacement is starting`
      ).pipe(Effect.annotateLogs({ workerId: error.workerId, reason: error.reason, failedCalls: event.calls }))
    }
    case "WorkerReplaced":
      return Effect.logInfo(`worker ${event.workerId} replaces a crashed worker`).pipe(
        Effect.annotateLogs({ workerId: event.workerId })
      )
    case "WorkerBootFailed": {
      const cause = event.cause instanceof Error ? event.cause.message : String(event.cause)
      const annotations = { workerId: event.workerId, attempt: event.attempt, maxAttempts: event.maxAttempts }
      return (event.final
        ? Effect.logError(
          `worker ${event.workerId} failed to boot (${cause}); ${event.attempt} failed boots in a row, the pool stops starting workers and fails calls with WorkerBootFailed`
        )
        : Effect.logWarning(
          `worker ${event.workerId} failed to boot (${cause}); attempt ${event.attempt} of ${event.maxAttempts}, retrying`
        )).pipe(Effect.annotateLogs(annotations))
    }
  }
}

const build = (
  config: PoolConfig,
  queue: CallQueueOptions,
  spawner: Spawner,
  name: string,
  canTransfer: boolean
): Effect.Effect<WorkerPool["Service"], WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const registry = PoolMetrics.register(name, context)
    // Engine events arrive in plain callbacks: each log line runs as its own fiber in the layer's context, so it
    // goes to the loggers and minimum level that were in place when the pool was built.
    const onEvent = (event: PoolEvent): void => {
      Effect.runForkWith(context)(Effect.annotateLogs(logLine(event), { pool: name }))
    }
    const engine = new Engine({ config, spawner, onNewTask: registry.onNewTask, onEvent, queue })
    registry.attach(engine)

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const { inFlight, queued } = engine.stats()
        const accepted = inFlight + queued
        const started = performance.now()
        const stop = Effect.callback<void>((resume) => engine.shutdown(() => resume(Effect.void)))
        const stopped = Effect.suspend(() => {
          const { completed, failed } = engine.stats()
          return Effect.logDebug(`worker pool shut down in ${Math.round(performance.now() - started)} ms`).pipe(
            Effect.annotateLogs({ completed, failed })
          )
        })
        // A drain is worth an info line only when there is accepted work to wait for.
        const draining = accepted === 0 ? Effect.void : Effect.logInfo(
          `worker pool draining ${accepted} calls (${inFlight} running, ${queued} queued) for up to ${config.shutdownDeadline} ms`
        )
        return Effect.andThen(draining, Effect.andThen(stop, stopped)).pipe(
          Effect.annotateLogs({ pool: name }),
          Effect.ensuring(Effect.sync(registry.freeze))
        )
      })
    )
    yield* Effect.callback<void, WorkerBootFailed>((resume) =>
      engine.start((error) =>
        resume(
          error === undefined ? Effect.void : error._tag === "PoolShutDown" ? Effect.interrupt : Effect.fail(error)
        )
      )
    )

    const callers = makeCallers(engine, canTransfer, config.taskTimeout ?? 0)

    // Plain parameters rather than `...args: RunArgs<T>` (the service's type): a rest array per call is an
    // allocation on the hottest path. The call is itself the effect that cancels it (see `Call`): no closure
    // and no effect per call for the caller's interruption.
    const run = (
      task: WorkerTask.Any,
      payload?: unknown,
      options?: RunOptions
    ): Effect.Effect<unknown, unknown> =>
      Effect.callback((resume) => callers.task(task, payload, options, resume as Resume))

    const offload = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      args: Args,
      options?: RunOptions
    ): Effect.Effect<Awaited<R>, PoolError> =>
      Effect.callback((resume) => callers.fn(fn as (...args: Array<any>) => unknown, args, options, resume as Resume))

    const offloadEach = <A, B>(
      fn: (item: A) => B,
      items: ReadonlyArray<A>
    ): Effect.Effect<Array<Awaited<B>>, PoolError> =>
      Effect.callback((resume) =>
        callers.fn(fn as (...args: Array<any>) => unknown, [items], undefined, resume as Resume, true)
      )

    return WorkerPool.of({
      run: run as WorkerPool["Service"]["run"],
      offload,
      offloadEach,
      stats: Effect.sync(() => engine.stats())
    })
  })

/**
 * Runs a task on the pool in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = WorkerPool.run(Fib, 35).pipe(
 *   Effect.catchTag("FibTooBig", (e) => Effect.succeed(-e.n)),
 *   Effect.catchTag("WorkerCrashed", () => Effect.succeed(0))
 * )
 * ```
 */
export const run = <T extends WorkerTask.Any>(
  task: T,
  ...args: RunArgs<T>
): Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | PoolError, WorkerPool> =>
  WorkerPool.use((pool) => pool.run(task, ...args))

/**
 * Runs a function on a worker of the pool in context: `offload(fib, [35])`. The arguments come as an array, then
 * the call's options (`timeout`, `priority`, `key`, `taskId`, as for {@link run}).
 *
 * The function travels as its source text (`fn.toString()`), is compiled once per worker (cached by text) and
 * called with the elements of `args`, which are structured-cloned; a promise result is awaited. So it must be
 * **self-contained**: no closures (captured variables, imports, module-level helpers, itself under an outer
 * `const` name: write `function fib(n) { ... fib(n - 1) ... }` rather than `const fib = (n) => ... fib(...)`),
 * no `this` or `super`, not native or bound, not a class or a method shorthand.
 *
 * Checked on this side, before sending: native/bound functions, classes, method shorthands (they do not
 * compile alone) and `this`/`super`; they fail with `PayloadInvalid` (reason `"not-self-contained"`).
 * Captured variables cannot be seen from here: when the function touches one in the worker, the call fails
 * with the same `PayloadInvalid` naming the missing variable. Arguments that cannot be cloned fail with
 * `PayloadInvalid` (reason `"not-cloneable"`) before anything is sent. An exception thrown by the function
 * is a defect (`Effect.die`) with its message and stack. The pool's `taskTimeout` applies unless the options
 * give a `timeout`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 *
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2)
 * }
 *
 * const program = WorkerPool.offload(fib, [35], { timeout: "5 seconds" }).pipe(
 *   Effect.provide(WorkerPool.layer())
 * )
 * ```
 */
export const offload = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  args: Args,
  options?: RunOptions
): Effect.Effect<Awaited<R>, PoolError, WorkerPool> => WorkerPool.use((pool) => pool.offload(fn, args, options))

/** The stats of the pool in context. */
export const stats: Effect.Effect<PoolStats, never, WorkerPool> = WorkerPool.use((pool) => pool.stats)

/**
 * Names a worker entry file next to the calling module, so that the same line works from source and from
 * compiled output: `file` is resolved against `from` (pass `import.meta.url`), and when `from` is a compiled
 * module (`.js`, `.mjs`, `.cjs`) a `.ts`, `.mts` or `.cts` extension in `file` becomes `.js`, `.mjs` or
 * `.cjs`, as `tsc` does to relative imports (`rewriteRelativeImportExtensions`) but never to URL strings.
 * Any other path is resolved as it is.
 *
 * @example
 * ```ts
 * import { WorkerPool } from "effect-orchestrator"
 *
 * // src/main.ts -> src/worker.ts; dist/main.js -> dist/worker.js
 * const layer = WorkerPool.layer({ entry: WorkerPool.entry(import.meta.url, "./worker.ts") })
 * ```
 */
export const entry = (from: string | URL, file: string): URL => {
  const base = new URL(from)
  const compiled = /\.[cm]?js$/.test(base.pathname)
  return new URL(compiled ? file.replace(/\.([cm]?)ts$/, ".$1js") : file, base)
}
