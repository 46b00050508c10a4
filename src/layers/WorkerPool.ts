/**
 * The worker pool: offload CPU-heavy work from an Effect program to worker threads (or child processes) and
 * get a typed Effect back.
 *
 * - **Typed tasks**: `run(task, payload)` with a `WorkerTask` definition shared with the worker entry; the
 *   payload is validated and encoded before anything is sent, and the worker's typed error arrives as the same
 *   class (`instanceof` and `Effect.catchTag` work). Defects arrive as defects, with message and stack.
 * - **Ad hoc functions**: `offload(fn, ...args)` runs a self-contained function in a worker (see {@link offload}
 *   for what "self-contained" means and how violations are reported).
 * - **Throughput**: up to `concurrentTasksPerWorker` calls in flight per worker, and the calls for one worker
 *   in one macrotask leave as one message (answers come back batched the same way), so tiny tasks are not
 *   bound by round trips; the answers of a long batch leave every 0.25 ms rather than at its end, and the
 *   calls that refill a worker are posted before the callers of its answers resume, so a worker is not left
 *   idle in between. Calls go to
 *   idle workers first; a busy worker gets more only while the estimated synchronous work queued in it stays
 *   under a few milliseconds (workers report each call's handler time), so CPU-bound calls are spread over the
 *   workers instead of queued behind one another, and a task never seen before is treated as CPU-bound until
 *   its first answer. During a burst of CPU-bound calls, while the machine has a core to spare, a thread
 *   worker also holds the next one, waiting behind the call it runs, so it goes on at once even while your
 *   event loop is busy (a waiting call's timeout starts when it starts; cancelled before that, the worker
 *   skips it); when every core is busy it does not, so that the event loop gets a core between calls. Likewise a busy worker holds at most 16 MiB of moved buffers, which keeps binary calls
 *   clear of V8's external-memory collections. A worker that was busy in the last 50 ms waits for new calls on
 *   a shared counter (`Atomics.wait`, 2 ms slices) rather than its event loop, which makes round trips faster;
 *   it spins for 30 µs before each wait only while it measures that this pays (the pool's thread and the
 *   worker on different cores of a virtual machine) and a core is to spare; once cold it costs nothing.
 * - **Event loop first**: `niceIncrement` (0-19) lowers the workers' OS scheduling priority, so that when
 *   every core is busy the OS runs your event loop before them (a thread worker renices itself on Linux; a
 *   child-process worker its process on any OS). It buys the event loop's latency with the workers' share
 *   of a busy machine: measured in `npm run bench -- http`.
 * - **Cancellation and timeouts**: interrupting a caller removes a queued call at once and interrupts a running
 *   one in its worker; `timeout` (or the pool's `taskTimeoutMillis`) fails the call with `TaskTimeout`. A call
 *   that does not stop within `terminationGraceMillis` gets its worker terminated and replaced; the other calls
 *   on that worker are sent again to another worker, never failed (so they may run twice: keep handlers
 *   idempotent, or use `concurrentTasksPerWorker: 1`).
 * - **Crash isolation**: a worker that exits, throws an uncaught error or runs out of memory fails only its own
 *   calls, with `WorkerCrashed` (exit code, reason); it is replaced with exponential backoff, the pool returns
 *   to its size, and queued calls wait for the replacement.
 * - **Boot check**: building the layer starts one worker and waits for it to be ready (the other `minWorkers`
 *   start then, once the calls waiting for it have been posted, and boot while the first calls run); it fails with `WorkerBootFailed`, carrying the worker's
 *   own error, when workers cannot start (`maxBootFailures` attempts with backoff, or `bootTimeoutMillis`
 *   without a ready signal). Later, after `maxBootFailures` failed boots in a row, the pool stops respawning
 *   and fails queued and new calls at once. Workers run with Node's module compile cache on from their first
 *   line (`compileCache`; a TypeScript entry then loads without Node's TypeScript stripper) and resolve
 *   `effect`'s own modules without the file system; a pool without an entry (offload only) loads no `effect` in
 *   its workers.
 * - **Hygiene**: `minWorkers`..`maxWorkers` workers (default `os.availableParallelism()`), idle workers above
 *   `minWorkers` stopped after `idleTimeoutMillis`, `resourceLimits`, recycling after `maxTasksPerWorker` calls
 *   or above `maxHeapMb` of heap.
 * - **Shutdown**: when the scope closes, new calls fail with `PoolShutDown`, accepted calls may finish until
 *   `shutdownDeadlineMillis`, then the rest fail with `PoolShutDown` and every worker is terminated; the
 *   finalizer returns once all have exited.
 * - **Which worker**: each call writes the id of the worker it is sent to (again when it is re-dispatched) into
 *   the caller's `WorkerAssignment` cell, if its context has one; the orchestrator reports it as
 *   `TaskResult.workerId`, and `stats.workerIds` lists the live workers' ids.
 * - **Metrics** (`orchestrator_pool_*`, attribute `pool`): tasks completed and failed per task, workers, busy
 *   workers, queue depth, calls in flight, crashes, utilisation, wait and run time histograms (ms). They are
 *   registered in the context's `Metric.MetricRegistry` and read from the pool's counters on snapshot, so the
 *   per-call path pays nothing for them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-orchestrator"
 * import { Fib } from "./math-tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* WorkerPool.run(Fib, 30)
 *   const b = yield* WorkerPool.offload((n: number) => n * 2, 21)
 *   return a + b
 * })
 *
 * program.pipe(
 *   Effect.provide(WorkerPool.WorkerPool.layer({ entry: new URL("./math-worker.ts", import.meta.url), maxWorkers: 4 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Metric } from "effect"
import type { Duration, Scope } from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { TransferListItem } from "node:worker_threads"
import { PoolConfig } from "../domain/Config.ts"
import type { PoolConfigInput } from "../domain/Config.ts"
import { InvalidConfig, PayloadInvalid, UnknownTask } from "../domain/OrchestratorError.ts"
import type {
  PoolShutDown,
  TaskCancelled,
  TaskTimeout,
  WorkerBootFailed,
  WorkerCrashed
} from "../domain/OrchestratorError.ts"
import type * as WorkerTask from "../domain/WorkerTask.ts"
import { decodeConfig, timeoutMillis as decodeTimeoutMillis } from "../runtime/config/ConfigValidation.ts"
import { Engine, timeBoundaries } from "../runtime/pool/Dispatch.ts"
import type { Call, Histogram, PoolStats, Resume, TaskStats } from "../runtime/pool/Dispatch.ts"
import { inProcessSpawner, processSpawner, threadSpawner } from "../runtime/pool/Transport.ts"
import type { Spawner } from "../runtime/pool/Transport.ts"
import * as WorkerAssignment from "../runtime/pool/WorkerAssignment.ts"
import * as FunctionSource from "../runtime/wire/FunctionSource.ts"
import { CodecError, collectTransferables, offloadTaskName } from "../runtime/wire/Protocol.ts"
import type { ValueCodec } from "../runtime/wire/Protocol.ts"
import { codecFor } from "../runtime/wire/WireCodec.ts"
import type { Served } from "../runtime/worker/Server.ts"

export type { PoolStats } from "../runtime/pool/Dispatch.ts"

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

/** Options of one call. */
export interface RunOptions {
  /**
   * Hard limit on the call's time on a worker (from the moment it is sent); the pool's `taskTimeoutMillis`
   * when absent. Past it the call fails with `TaskTimeout` and its fiber in the worker is interrupted.
   */
  readonly timeout?: Duration.Input | undefined
  /** Identifier reported in `TaskTimeout`/`TaskCancelled`; default `<task name>#<call number>`. */
  readonly taskId?: string | undefined
}

/** The arguments of `run` after the task: the payload (optional when the task takes none) and the options. */
export type RunArgs<T extends WorkerTask.Any> = void extends WorkerTask.Payload<T>
  ? [payload?: WorkerTask.Payload<T>, options?: RunOptions]
  : [payload: WorkerTask.Payload<T>, options?: RunOptions]

/** Options of a pool: its configuration (see `Config.PoolConfig`) plus where the workers come from. */
export interface Options extends PoolConfigInput {
  /**
   * The worker entry file, which calls `serve(group, handlers)`. `.ts` entries run with Node's type stripping
   * (erasable syntax only); from a build, point at the `.js` file
   * (`new URL(\`./worker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}\`, import.meta.url)`).
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
  /** Runs a self-contained function on a worker; see the module-level {@link offload}. */
  readonly offload: <const Args extends ReadonlyArray<unknown>, R>(
    fn: (...args: Args) => R,
    ...args: Args
  ) => Effect.Effect<Awaited<R>, PoolError>
  /** Workers, busy workers, queue depth, calls in flight, completed and failed calls, utilisation. */
  readonly stats: Effect.Effect<PoolStats>
}>()("effect-orchestrator/WorkerPool") {
  /**
   * A pool of worker threads (or child processes with `mode: "process"`). Fails with `InvalidConfig` for a bad
   * option and with `WorkerBootFailed` when the workers cannot start.
   */
  static readonly layer = (options: Options = {}): Layer.Layer<WorkerPool, InvalidConfig | WorkerBootFailed> =>
    Layer.effect(WorkerPool, make(options))

  /**
   * The same handlers, run in this thread by an in-process worker: no threads, but every payload, answer and
   * error still goes through the schemas and structured clone, and timeouts, cancellation, stats and metrics
   * behave as in a real pool. For users' specs. Defaults: one worker; options as in {@link layer} (`entry`,
   * `mode`, `resourceLimits`, `execArgv` and `env` do not apply). Accepts what `serve` returns, or a group and
   * its handlers.
   */
  static readonly layerTest: {
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
}

const configKeys = Object.keys(PoolConfig.fields) as ReadonlyArray<keyof PoolConfigInput>

const configOf = (options: Options): PoolConfigInput => {
  const config: Record<string, unknown> = {}
  for (const key of configKeys) if (options[key] !== undefined) config[key] = options[key]
  return config as PoolConfigInput
}

const sourceIsTs = import.meta.url.endsWith(".ts")
const functionWorkerUrl = new URL(`../runtime/worker/FunctionWorker.${sourceIsTs ? "ts" : "js"}`, import.meta.url)

const resolveEntry = (entry: URL | string | undefined): Effect.Effect<URL, InvalidConfig> => {
  if (entry === undefined) return Effect.succeed(functionWorkerUrl)
  if (entry instanceof URL) {
    return entry.protocol === "file:" || entry.protocol === "data:"
      ? Effect.succeed(entry)
      : Effect.fail(new InvalidConfig({ field: "pool.entry", value: entry.href, detail: "expected a file: URL" }))
  }
  if (typeof entry !== "string" || entry.length === 0) {
    return Effect.fail(
      new InvalidConfig({ field: "pool.entry", value: String(entry), detail: "expected a file path or a file: URL" })
    )
  }
  return Effect.succeed(entry.startsWith("file:") ? new URL(entry) : pathToFileURL(path.resolve(entry)))
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
 *   return yield* pool.offload((a: number, b: number) => a * b, 6, 7)
 * }))
 * ```
 */
export const make = (
  options: Options = {}
): Effect.Effect<WorkerPool["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* decodeConfig(PoolConfig, "pool")(configOf(options))
    const entry = yield* resolveEntry(options.entry)
    const name = options.name ?? "default"
    const spawnOptions = {
      entry,
      name,
      boot: {
        compileCache: options.compileCache ?? true,
        // A user's entry serves typed tasks, so it loads `effect`; the built-in one loads none.
        effectResolution: options.entry !== undefined,
        ...(config.maxHeapMb !== undefined ? { heapReportMillis: 100 } : {}),
        ...(config.niceIncrement !== undefined && config.niceIncrement > 0
          ? { niceIncrement: config.niceIncrement }
          : {})
      },
      resourceLimits: config.resourceLimits,
      execArgv: options.execArgv,
      env: options.env
    }
    const spawner = config.mode === "process" ? processSpawner(spawnOptions) : threadSpawner(spawnOptions)
    return yield* build(config, spawner, name, config.mode !== "process")
  })

const makeTest = <G extends WorkerTask.Group<WorkerTask.Any>>(
  group: G,
  handlers: WorkerTask.Handlers<G>,
  options: Options = {}
): Effect.Effect<WorkerPool["Service"], InvalidConfig | WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* decodeConfig(PoolConfig, "pool")({ minWorkers: 1, maxWorkers: 1, ...configOf(options) })
    const boot = config.maxHeapMb !== undefined ? { heapReportMillis: 100 } : {}
    return yield* build(config, inProcessSpawner(group, handlers, boot), options.name ?? "test", true)
  })

/** The pool's metrics, named `orchestrator_pool_*`; series carry a `pool` attribute (and `task` where noted). */
export const metrics = {
  /** Calls answered with a success, per `task`. */
  tasksCompleted: Metric.counter("orchestrator_pool_tasks_completed_total", {
    description: "Calls answered with a success, per task"
  }),
  /** Calls that failed (typed error, defect, crash, timeout, shutdown), per `task`. */
  tasksFailed: Metric.counter("orchestrator_pool_tasks_failed_total", {
    description: "Calls that failed, per task"
  }),
  workers: Metric.gauge("orchestrator_pool_workers", { description: "Workers started or starting" }),
  busyWorkers: Metric.gauge("orchestrator_pool_busy_workers", { description: "Workers with a call in flight" }),
  queueDepth: Metric.gauge("orchestrator_pool_queue_depth", { description: "Calls waiting for a worker" }),
  inFlight: Metric.gauge("orchestrator_pool_in_flight", { description: "Calls sent and not answered yet" }),
  crashes: Metric.counter("orchestrator_pool_worker_crashes_total", { description: "Workers that died unexpectedly" }),
  utilisation: Metric.gauge("orchestrator_pool_utilisation", {
    description: "Share of worker time with a call in flight, over the pool's life (0..1)"
  }),
  waitTime: Metric.histogram("orchestrator_pool_wait_time_ms", {
    description: "Time from call to send, in milliseconds",
    boundaries: timeBoundaries
  }),
  runTime: Metric.histogram("orchestrator_pool_run_time_ms", {
    description: "Time from send to answer, in milliseconds",
    boundaries: timeBoundaries
  })
} as const

const noop = () => {}
const counterHooks = (get: () => number) => ({
  get: () => ({ count: get(), incremental: false }),
  update: noop,
  modify: noop
})
const gaugeHooks = (get: () => number) => ({ get: () => ({ value: get() }), update: noop, modify: noop })
const histogramHooks = (histogram: Histogram) => ({ get: () => histogram.state(), update: noop, modify: noop })

interface TaskCodecs {
  readonly payload: ValueCodec
  readonly success: ValueCodec
  readonly error: ValueCodec
}

const taskCodecs = new WeakMap<WorkerTask.Any, TaskCodecs>()
const codecsOf = (task: WorkerTask.Any): TaskCodecs => {
  let codecs = taskCodecs.get(task)
  if (codecs === undefined) {
    codecs = { payload: codecFor(task.payload), success: codecFor(task.success), error: codecFor(task.error) }
    taskCodecs.set(task, codecs)
  }
  return codecs
}

// An infinite timeout means none, which the engine spells 0.
const timeoutMillisOf = (timeout: Duration.Input): number | InvalidConfig => {
  const millis = decodeTimeoutMillis(timeout, "timeout")
  return millis === Number.POSITIVE_INFINITY ? 0 : millis
}

const build = (
  config: PoolConfig,
  spawner: Spawner,
  name: string,
  canTransfer: boolean
): Effect.Effect<WorkerPool["Service"], WorkerBootFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const registrations: Array<Metric.Registration> = []
    const attributes = { pool: name }
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
    const engine = new Engine({ config, spawner, onNewTask })
    const tagged = <I, S>(metric: Metric.Metric<I, S>) => Metric.withAttributes(metric, attributes)
    registrations.push(
      Metric.registerUnsafe(tagged(metrics.workers), context, gaugeHooks(() => engine.stats().workers)),
      Metric.registerUnsafe(tagged(metrics.busyWorkers), context, gaugeHooks(() => engine.stats().busy)),
      Metric.registerUnsafe(tagged(metrics.queueDepth), context, gaugeHooks(() => engine.stats().queued)),
      Metric.registerUnsafe(tagged(metrics.inFlight), context, gaugeHooks(() => engine.stats().inFlight)),
      Metric.registerUnsafe(tagged(metrics.crashes), context, counterHooks(() => engine.crashed)),
      Metric.registerUnsafe(tagged(metrics.utilisation), context, gaugeHooks(() => engine.stats().utilisation)),
      Metric.registerUnsafe(tagged(metrics.waitTime), context, histogramHooks(engine.waitTime)),
      Metric.registerUnsafe(tagged(metrics.runTime), context, histogramHooks(engine.runTime))
    )

    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => engine.shutdown(() => resume(Effect.void))).pipe(
        Effect.ensuring(Effect.sync(() => {
          for (const registration of registrations) registration.remove()
        }))
      )
    )
    yield* Effect.callback<void, WorkerBootFailed>((resume) =>
      engine.start((error) =>
        resume(
          error === undefined ? Effect.void : error._tag === "PoolShutDown" ? Effect.interrupt : Effect.fail(error)
        )
      )
    )

    const defaultTimeout = config.taskTimeoutMillis ?? 0
    const knownNames = (): ReadonlyArray<string> => (engine.names ?? []).filter((n) => n !== offloadTaskName)

    const reject = (name: string, resume: Resume, error: PoolError): undefined => {
      engine.rejected(name)
      resume(Exit.fail(error))
      return undefined
    }

    const submit = (
      task: WorkerTask.Any,
      payload: unknown,
      options: RunOptions | undefined,
      resume: Resume
    ): Call | undefined => {
      const rejected = engine.rejection()
      if (rejected !== undefined) return reject(task.name, resume, rejected)
      const index = engine.indexOf(task.name)
      if (index === undefined || task.name === offloadTaskName) {
        return reject(task.name, resume, new UnknownTask({ taskName: task.name, known: knownNames() }))
      }
      const codecs = codecsOf(task)
      let encoded: unknown
      try {
        encoded = codecs.payload.encode(payload)
      } catch (error) {
        if (!(error instanceof CodecError)) throw error
        return reject(
          task.name,
          resume,
          new PayloadInvalid({ taskName: task.name, reason: "schema", detail: error.detail })
        )
      }
      let transfer: Array<TransferListItem> | undefined
      if (task.transfer && canTransfer) {
        transfer = []
        collectTransferables(encoded, transfer)
      }
      const timeout = options?.timeout === undefined ? defaultTimeout : timeoutMillisOf(options.timeout)
      if (typeof timeout !== "number") return reject(task.name, resume, timeout)
      return engine.submit(
        options?.taskId,
        task.name,
        index,
        encoded,
        transfer,
        codecs.success,
        codecs.error,
        timeout,
        resume,
        WorkerAssignment.current()
      )
    }

    const run = <T extends WorkerTask.Any>(
      task: T,
      ...[payload, options]: RunArgs<T>
    ): Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | PoolError> =>
      Effect.callback((resume) => {
        const call = submit(task, payload, options, resume as Resume)
        if (call !== undefined) return Effect.sync(() => engine.cancel(call))
      })

    const offload = <const Args extends ReadonlyArray<unknown>, R>(
      fn: (...args: Args) => R,
      ...args: Args
    ): Effect.Effect<Awaited<R>, PoolError> =>
      Effect.callback((resume) => {
        const taskName = `offload:${(typeof fn === "function" && fn.name.trim()) || "anonymous"}`
        const rejected = engine.rejection()
        if (rejected !== undefined) return reject(taskName, resume as Resume, rejected)
        const checked = FunctionSource.check(fn)
        if (!checked.ok) {
          return reject(
            taskName,
            resume as Resume,
            new PayloadInvalid({ taskName, reason: "not-self-contained", detail: checked.detail })
          )
        }
        const call = engine.submit(
          undefined,
          taskName,
          engine.indexOf(offloadTaskName)!,
          { source: checked.source, args },
          undefined,
          undefined,
          undefined,
          defaultTimeout,
          resume as Resume,
          WorkerAssignment.current()
        )
        return Effect.sync(() => engine.cancel(call))
      })

    return WorkerPool.of({ run, offload, stats: Effect.sync(() => engine.stats()) })
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
 * Runs a function on a worker of the pool in context: `offload(fib, 35)`.
 *
 * The function travels as its source text (`fn.toString()`), is compiled once per worker (cached by text) and
 * called with `args`, which are structured-cloned; a promise result is awaited. So it must be
 * **self-contained**: no closures (captured variables, imports, module-level helpers, itself under an outer
 * `const` name: write `function fib(n) { ... fib(n - 1) ... }` rather than `const fib = (n) => ... fib(...)`),
 * no `this` or `super`, not native or bound, not a class or a method shorthand.
 *
 * Checked on this side, before sending: native/bound functions, classes, method shorthands (they do not
 * compile alone) and `this`/`super`; they fail with `PayloadInvalid` (reason `"not-self-contained"`).
 * Captured variables cannot be seen from here: when the function touches one in the worker, the call fails
 * with the same `PayloadInvalid` naming the missing variable. Arguments that cannot be cloned fail with
 * `PayloadInvalid` (reason `"not-cloneable"`) before anything is sent. An exception thrown by the function
 * is a defect (`Effect.die`) with its message and stack. The pool's `taskTimeoutMillis` applies.
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
 * const program = WorkerPool.offload(fib, 35).pipe(
 *   Effect.provide(WorkerPool.WorkerPool.layer())
 * )
 * ```
 */
export const offload = <const Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Effect.Effect<Awaited<R>, PoolError, WorkerPool> => WorkerPool.use((pool) => pool.offload(fn, ...args))

/** The stats of the pool in context. */
export const stats: Effect.Effect<PoolStats, never, WorkerPool> = WorkerPool.use((pool) => pool.stats)
