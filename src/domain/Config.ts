/**
 * Configuration schemas with their defaults. Decode user input with `Config.validate` from the runtime, which
 * turns the first problem into an `InvalidConfig` error naming the field and the value.
 *
 * Defaults are derived from `os.availableParallelism()` so a pool fills the machine it runs on and no more.
 *
 * Durations (`idleTimeout`, `taskTimeout`, `aging`, `drainDeadline`, ...) are `Duration.Input`s: a number of
 * milliseconds, a string such as `"30 seconds"`, or a `Duration`; decoded configurations hold them in
 * milliseconds. Figures the library reports (stats, results, errors) are numbers named `…Millis`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Config } from "effect-orchestrator"
 *
 * const pool = Schema.decodeUnknownSync(Config.PoolConfig)({ maxWorkers: 4 })
 * pool.concurrentTasksPerWorker // 16
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as os from "node:os"
import * as DurationInput from "./DurationInput.ts"
import { RetryPolicy } from "./RetryPolicy.ts"

/** The number of cores this process may use: the default size of pools. */
export const parallelism: number = Math.max(1, os.availableParallelism())

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const withDefault = <S extends Schema.Top>(value: S["Encoded"]) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

/**
 * Default upper bounds, in seconds, of the buckets of every duration histogram (pool wait and run times, lane
 * wait times, task queue and run times): 100 µs to 1 minute in 1–5 steps. Twelve bounds make 14 series lines
 * per label set (the buckets, `+Inf`, `_sum`, `_count`); set `durationBucketsSeconds` to choose others.
 */
export const defaultDurationBucketsSeconds: ReadonlyArray<number> = [
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  60
]

/** Upper bounds of histogram buckets, in seconds: positive, finite and strictly increasing. */
export const DurationBuckets = Schema.Array(Positive).check(
  Schema.makeFilter((bounds) => bounds.length > 0 || "must have at least one bound"),
  Schema.makeFilter((bounds) => {
    // Stryker disable next-line EqualityOperator,ConditionalExpression: equivalent, at 0 bounds[-1] is undefined and `<=` undefined is false
    const at = bounds.findIndex((bound, i) => i > 0 && bound <= bounds[i - 1]!)
    return at === -1 || { path: [at], issue: `must be greater than the bound before it (${bounds[at - 1]})` }
  })
)

/**
 * The smallest old-generation heap a worker may be given, in megabytes. Below it V8 cannot even set up the
 * worker's heap and aborts the whole process (measured on Node 24.21: 1 and 2 MB kill the host with exit 133,
 * SIGTRAP; from 2.5 MB the worker fails to boot with an out-of-memory error the pool reports).
 */
export const minOldGenerationSizeMb = 3

/** V8 heap and stack limits of one worker, in megabytes, as in `node:worker_threads` `resourceLimits`. */
export const ResourceLimits = Schema.Struct({
  maxOldGenerationSizeMb: Schema.optionalKey(
    Schema.Finite.check(
      Schema.makeFilter((mb: number) =>
        mb >= minOldGenerationSizeMb ||
        `must be at least ${minOldGenerationSizeMb} (MB): a smaller heap aborts the whole process when a worker starts`
      )
    )
  ),
  maxYoungGenerationSizeMb: Schema.optionalKey(Positive),
  codeRangeSizeMb: Schema.optionalKey(Positive),
  stackSizeMb: Schema.optionalKey(Positive)
})
/** V8 heap and stack limits of one worker, decoded. */
export type ResourceLimits = typeof ResourceLimits.Type

/**
 * The pool's defaults, as decoding an empty configuration gives them: the schema below takes its defaults from
 * here, and so does the runtime's decoder of plain-number configurations (so the two cannot drift).
 *
 * @example
 * ```ts
 * import { Config } from "effect-orchestrator"
 *
 * Config.poolDefaults.concurrentTasksPerWorker // 16
 * ```
 */
export const poolDefaults = {
  minWorkers: 1,
  maxWorkers: parallelism,
  concurrentTasksPerWorker: 16,
  pipelineDepth: 64,
  idleTimeout: 30_000,
  terminationGrace: 1_000,
  shutdownDeadline: 10_000,
  maxBootFailures: 3,
  bootTimeout: 30_000,
  mode: "thread",
  durationBucketsSeconds: defaultDurationBucketsSeconds
} as const

/** Schema of the worker pool's configuration. */
export const PoolConfig = Schema.Struct({
  /**
   * Workers kept alive even when idle, and started with the layer. Default 1: the others start on demand, up to
   * `maxWorkers`; to start N workers up front, set both `minWorkers` and `maxWorkers` to N.
   */
  minWorkers: NonNegativeInt.pipe(withDefault(poolDefaults.minWorkers)),
  /** Most workers at once. Default `os.availableParallelism()`. */
  maxWorkers: PositiveInt.pipe(withDefault(poolDefaults.maxWorkers)),
  /**
   * Calls sent to one worker before it answers, and so the most handlers that may be suspended in one worker at
   * once (an asynchronous handler waiting on something). More hides round trips for tiny tasks. Default 16.
   */
  concurrentTasksPerWorker: PositiveInt.pipe(withDefault(poolDefaults.concurrentTasksPerWorker)),
  /**
   * Calls of a task known to complete synchronously (its last 8 calls on the pool did, without suspending) that
   * may be sent to one busy worker, when that is more than `concurrentTasksPerWorker`: such calls run one after
   * another, so a deeper pipe means fewer messages and wake-ups per call, not more handlers at once. A call that
   * has not started when its worker dies is sent to another worker, so the depth does not widen what a crash
   * fails. The pipeline's other bounds still apply (4 ms of estimated work, 16 MiB of moved buffers). A task that
   * suspends only now and then (a cache miss) may, right after 8 calls that did not, have up to this many
   * handlers suspended in one worker until its first suspended answer is back: set this no higher than
   * `concurrentTasksPerWorker` where that matters. Default 64.
   */
  pipelineDepth: PositiveInt.pipe(withDefault(poolDefaults.pipelineDepth)),
  /** A worker above `minWorkers` idle this long is stopped. Default 30 s. */
  idleTimeout: DurationInput.NonNegative.pipe(withDefault(poolDefaults.idleTimeout)),
  /** Replace a worker after it has run this many tasks. */
  maxTasksPerWorker: Schema.optionalKey(PositiveInt),
  /** Replace a worker once its used heap passes this many megabytes. */
  maxHeapMb: Schema.optionalKey(Positive),
  resourceLimits: Schema.optionalKey(ResourceLimits),
  /** Default timeout of one task; absent means none. */
  taskTimeout: Schema.optionalKey(DurationInput.Positive),
  /**
   * After a timeout or cancellation, how long a task may take to stop before its worker is terminated.
   * Default 1 s.
   */
  terminationGrace: DurationInput.NonNegative.pipe(withDefault(poolDefaults.terminationGrace)),
  /** On shutdown, how long in-flight tasks may run before workers are terminated. Default 10 s. */
  shutdownDeadline: DurationInput.NonNegative.pipe(withDefault(poolDefaults.shutdownDeadline)),
  /** Failed boots in a row after which the pool stops respawning and fails fast. */
  maxBootFailures: PositiveInt.pipe(withDefault(poolDefaults.maxBootFailures)),
  /** A worker that has not said it is ready after this long counts as a failed boot. Default 30 s. */
  bootTimeout: DurationInput.Positive.pipe(withDefault(poolDefaults.bootTimeout)),
  /** Worker threads, or child processes for stronger isolation. */
  mode: Schema.Literals(["thread", "process"]).pipe(withDefault(poolDefaults.mode)),
  /** Bucket bounds, in seconds, of the pool's wait and run time histograms. */
  durationBucketsSeconds: DurationBuckets.pipe(withDefault(poolDefaults.durationBucketsSeconds)),
  /**
   * Added to the OS scheduling priority (nice value) of each worker when it starts, 0 to 19: the higher, the
   * more readily the OS gives a core to the event loop (and to other programs) when every core is busy. Each
   * thread worker renices itself on Linux; child-process workers renice their process on any OS; thread
   * workers elsewhere keep the process's priority (nice is per process there). Absent: no change.
   */
  niceIncrement: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 19 })))
}).check(Schema.makeFilter((c) =>
  c.maxWorkers >= c.minWorkers ||
  { path: ["maxWorkers"], issue: `must be at least minWorkers (${c.minWorkers})` }
))

/** A decoded pool configuration: its durations are in milliseconds. */
export type PoolConfig = typeof PoolConfig.Type

/** A pool configuration as written by a user: every field optional. */
export type PoolConfigInput = typeof PoolConfig.Encoded

/** What to do with a new task when the queue is at capacity. */
export const OverflowPolicy = Schema.Literals(["suspend", "fail"])

/** A rate limit: at most `limit` admissions per `interval`. */
export const RateLimit = Schema.Struct({
  limit: PositiveInt,
  interval: DurationInput.Positive
})

/** Schema of the scheduler's configuration. */
export const SchedulerConfig = Schema.Struct({
  /** Tasks running at once. Default: the number of cores. */
  permits: PositiveInt.pipe(withDefault(parallelism)),
  /** Tasks waiting at most; absent means unbounded. */
  capacity: Schema.optionalKey(PositiveInt),
  /** At capacity: suspend the submitter (backpressure) or fail with `QueueFull`. */
  overflow: OverflowPolicy.pipe(withDefault("suspend")),
  /**
   * A waiting task is promoted one level each time it has waited this long at its level (`low` reaches
   * `critical` after 3 × `aging`), so low priorities never starve. Default 10 s.
   */
  aging: DurationInput.Positive.pipe(withDefault(10_000)),
  /** Tasks of one fairness key running at once; absent means only `permits` limits them. */
  perKeyLimit: Schema.optionalKey(PositiveInt),
  /** At most `limit` admissions per `interval`; absent means no rate limit. */
  rate: Schema.optionalKey(RateLimit),
  /** Bucket bounds, in seconds, of the wait time histogram (submission to admission). */
  durationBucketsSeconds: DurationBuckets.pipe(withDefault(defaultDurationBucketsSeconds))
})

/** A decoded scheduler configuration. */
export type SchedulerConfig = typeof SchedulerConfig.Type

/** A scheduler configuration as written by a user: every field optional. */
export type SchedulerConfigInput = typeof SchedulerConfig.Encoded

/** Schema of the blocking lane's configuration. */
export const BlockingConfig = Schema.Struct({
  /**
   * Threads that run blocking calls; kept apart from the CPU pool so neither starves the other. Default
   * min(4, cores). They all start with the orchestrator's layer, even if nothing ever blocks, so that a blocking
   * call never waits for a thread to boot.
   */
  threads: PositiveInt.pipe(withDefault(Math.max(1, Math.min(4, parallelism))))
})

/** Schema of the background pool's configuration. */
export const BackgroundConfig = Schema.Struct({
  /** Persistent consumers: background tasks running at once. Default: twice the number of cores. */
  consumers: PositiveInt.pipe(withDefault(parallelism * 2)),
  /**
   * On shutdown by scope, how long queued and running background tasks may take before they are cancelled.
   * Default 10 s.
   */
  drainDeadline: DurationInput.NonNegative.pipe(withDefault(10_000))
})

/** Schema of the whole orchestrator's configuration. */
export const OrchestratorConfig = Schema.Struct({
  pool: PoolConfig.pipe(withDefault({})),
  /**
   * Admission of every lane: capacity, overflow, aging, fairness and rate. `permits` is the io lane's. For cpu
   * tasks capacity, overflow and aging apply in the pool's queue (see `cpuPermits`).
   */
  scheduler: SchedulerConfig.pipe(withDefault({})),
  /**
   * CPU tasks handed to the pool at once, the others waiting by priority in a lane in front of it (with the
   * scheduler's capacity); absent: no such cap. cpu calls then wait only in the pool's own queue, which
   * applies the scheduler's priorities, aging, fairness keys and capacity while it keeps every worker's
   * pipeline full. Set it when a cpu task makes several pool calls, or to keep cpu tasks one per worker.
   */
  cpuPermits: Schema.optionalKey(PositiveInt),
  blocking: BlockingConfig.pipe(withDefault({})),
  background: BackgroundConfig.pipe(withDefault({})),
  /** Retry policy of tasks that name none; absent means no retry. */
  retry: Schema.optionalKey(RetryPolicy),
  /**
   * Bucket bounds, in seconds, of every duration histogram: the tasks' queue wait and run time, and (unless
   * `pool` or `scheduler` set their own) the pools' and lanes'.
   */
  durationBucketsSeconds: DurationBuckets.pipe(withDefault(defaultDurationBucketsSeconds))
})

/** A decoded orchestrator configuration. */
export type OrchestratorConfig = typeof OrchestratorConfig.Type

/** An orchestrator configuration as written by a user: every field optional. */
export type OrchestratorConfigInput = typeof OrchestratorConfig.Encoded
