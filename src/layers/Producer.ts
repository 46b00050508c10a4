/**
 * The producer side of the distributed queue: enqueue typed `WorkerTask` jobs into a BullMQ queue on Redis,
 * from any process, and await their results, which consumers on other processes or machines compute.
 *
 * - **Typed and validated**: `enqueue(task, payload, options)` encodes the payload with the task's schema
 *   before anything is sent (a bad payload fails with `PayloadInvalid` naming the field); only the task's
 *   *name* and the encoded data travel, never code.
 * - **Handles**: each job has a handle that `await`s the result (the success, or the task's own error decoded
 *   as the same class; `TaskTimeout`, `WorkerCrashed`, `UnknownTask`, `TaskCancelled`... typed too), reports
 *   its `status`, and `cancel`s it (a waiting job is removed; a running one is interrupted on its consumer).
 * - **Options**: the four priorities (every job carries one, FIFO within a level), `delay`, `timeout` (per
 *   attempt, on the consumer), the same `RetryPolicy` as in-process (attempts, exponential backoff with cap and
 *   jitter, `nonRetryable` tags fail at once), a fairness `key` for the consumer's scheduler, and an
 *   `idempotencyKey`: a second enqueue with the same key returns the first job's handle while that job is kept
 *   in Redis (see `keepCompleted`/`keepFailed`).
 * - **Semantics**: at least once. A job whose consumer dies runs again on another one, so a job may *start*
 *   more than once; BullMQ's lock lets only one run *finish* it, and its handle resolves once. Make side effects
 *   safe with the idempotency key (or with keys of your own in the handler).
 * - **Faults**: building the layer fails with `RedisUnavailable` (host and port) when Redis does not answer
 *   within `redis.connectTimeout`. When Redis goes away later, `enqueue` waits for it
 *   (`whenDisconnected: "wait"`, the default) or fails at once with `RedisUnavailable` (`"fail"`); awaiting
 *   handles resume once it is back (results are read again from Redis, so none is missed).
 * - **Observability**: `enqueue` runs in a span whose context travels in the job, so the consumer's span of the
 *   job is its child. Gauges `orchestrator_distributed_queue_depth` (attribute `priority`) and
 *   `orchestrator_distributed_jobs` (attribute `state`: `active`, `delayed`, `completed`, `failed`) are read
 *   from Redis every `metricsInterval`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Producer } from "effect-orchestrator"
 * import { Resize } from "./tasks.ts" // a WorkerTask definition shared with the consumers
 *
 * const program = Effect.gen(function*() {
 *   const producer = yield* Producer.Producer
 *   const handle = yield* producer.enqueue(Resize, { width: 640, height: 480 }, {
 *     priority: "high",
 *     retry: { maximumAttempts: 3, initialInterval: 500 },
 *     idempotencyKey: "resize-photo-42"
 *   })
 *   return yield* handle.await
 * })
 *
 * program.pipe(Effect.provide(Producer.layer({ queue: "images", redis: { host: "10.0.0.5", password: "…" } })))
 * ```
 *
 * @since 0.1.0
 */
import type { Job } from "bullmq"
import { Context, Effect, Exit, Layer, Metric, Option, Schema, Tracer } from "effect"
import type { Duration, Fiber, Scope } from "effect"
import type { Redis } from "ioredis"
import { JobDataInvalid, JobLost, RedisUnavailable } from "../domain/DistributedError.ts"
import type { DistributedError } from "../domain/DistributedError.ts"
import { InvalidConfig, PayloadInvalid, PoolShutDown, TaskCancelled } from "../domain/OrchestratorError.ts"
import type { OrchestratorError } from "../domain/OrchestratorError.ts"
import { RetryPolicy } from "../domain/RetryPolicy.ts"
import type { RetryPolicyInput } from "../domain/RetryPolicy.ts"
import { levels, TaskPriority } from "../domain/TaskPriority.ts"
import type * as WorkerTask from "../domain/WorkerTask.ts"
import { decodeConfigExit } from "../runtime/config/ConfigValidation.ts"
import { addInChunks } from "../runtime/distributed/BulkAdd.ts"
import { bullmq } from "../runtime/distributed/Drivers.ts"
import {
  binaryAt,
  binaryDetail,
  bullPriority,
  codecsOf,
  describeIssue,
  encodeJobData
} from "../runtime/distributed/JobWire.ts"
import type { JobData } from "../runtime/distributed/JobWire.ts"
import {
  cancelChannel,
  cancelKey,
  cancelMarkSeconds,
  defaultKeepCompleted,
  defaultKeepFailed,
  defaultPrefix,
  jobIdOf,
  keepJobs,
  millisOf,
  queueNameError
} from "../runtime/distributed/QueueSettings.ts"
import type { Retention } from "../runtime/distributed/QueueSettings.ts"
import { RecentMap } from "../runtime/distributed/RecentMap.ts"
import { addressOf, connect, connectTimeoutOf, isReady } from "../runtime/distributed/RedisConnection.ts"
import type { RedisOptions } from "../runtime/distributed/RedisConnection.ts"

export type { Retention } from "../runtime/distributed/QueueSettings.ts"
export type { RedisOptions } from "../runtime/distributed/RedisConnection.ts"

/** What awaiting a job can fail with besides the task's own typed error. */
export type JobError = OrchestratorError | DistributedError

/** What `enqueue` can fail with. */
export type EnqueueError = PayloadInvalid | InvalidConfig | RedisUnavailable | PoolShutDown

/** Options of the producer's layer. */
export interface Options {
  /** The queue's name; consumers of the same name (and prefix) on the same Redis serve it. */
  readonly queue: string
  /** Where Redis is (default `127.0.0.1:6379`), with password or ACL user and TLS. */
  readonly redis?: RedisOptions | undefined
  /** Key prefix in Redis. Default `"orchestrator"`; for Redis Cluster a hash tag such as `"{orchestrator}"`. */
  readonly prefix?: string | undefined
  /** What `enqueue` does while Redis is unreachable: wait for it (default) or fail with `RedisUnavailable`. */
  readonly whenDisconnected?: "wait" | "fail" | undefined
  /** Completed jobs kept in Redis. Default: the last 10,000, for at most one hour. */
  readonly keepCompleted?: Retention | undefined
  /** Failed jobs kept in Redis. Default: the last 10,000, for at most one day. */
  readonly keepFailed?: Retention | undefined
  /** How often the depth gauges are read from Redis; 0 turns it off. Default 1 s. */
  readonly metricsInterval?: Duration.Input | undefined
}

/** Options of one job. */
export interface EnqueueOptions {
  /** Default `"normal"`. `critical` jobs are served before `high`, and so on; FIFO within a level. */
  readonly priority?: TaskPriority | undefined
  /** Wait this long before the job may run. */
  readonly delay?: Duration.Input | undefined
  /** Hard limit on each attempt on its consumer; past it the attempt fails with `TaskTimeout`. */
  readonly timeout?: Duration.Input | undefined
  /**
   * Retries, as in-process: `maximumAttempts` (default 3 once a policy is given), exponential backoff with
   * cap and jitter, `nonRetryable` tags, `attemptTimeout` and `deadline` (from the enqueue). Without
   * a policy a job runs once.
   */
  readonly retry?: RetryPolicyInput | undefined
  /** A second enqueue with the same key returns the first job's handle (while the first job is kept). */
  readonly idempotencyKey?: string | undefined
  /** Fairness key (tenant, user) for the consumer's local scheduler. */
  readonly key?: string | undefined
}

/** Where a job is, as BullMQ reports it. */
export type JobStatus = "waiting" | "delayed" | "active" | "completed" | "failed" | "unknown"

/**
 * A job in the queue. `await`, `status` and `cancel` are made when read (most handles are awaited once and
 * never asked for more): read or destructure them, but do not copy a handle with `{ ...handle }`, which keeps
 * only `id` and `taskName`.
 */
export interface JobHandle<T extends WorkerTask.Any> {
  /** The job's id in BullMQ. */
  readonly id: string
  readonly taskName: T["name"]
  /** Waits for the job's outcome: its success, or its typed error. */
  readonly await: Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | JobError>
  /** Where the job is now (`unknown` once it has been removed or trimmed). */
  readonly status: Effect.Effect<JobStatus, RedisUnavailable>
  /**
   * Cancels the job: removed from the queue when it has not started, interrupted on its consumer when it is
   * running (its attempt then fails with `TaskCancelled` and is not retried). Nothing happens to a finished job.
   */
  readonly cancel: Effect.Effect<void, RedisUnavailable>
}

/** Queue depth as the gauges report it. */
export interface QueueDepth {
  readonly byPriority: { readonly [P in TaskPriority]: number }
  readonly active: number
  readonly delayed: number
  readonly completed: number
  readonly failed: number
}

/** The producer's metrics: gauges read from Redis (see the module's documentation). */
export const metrics = {
  depth: Metric.gauge("orchestrator_distributed_queue_depth", {
    description: "Jobs waiting in the queue, by priority (attribute `priority`; attribute `queue`)"
  }),
  jobs: Metric.gauge("orchestrator_distributed_jobs", {
    description: "Jobs by state: active, delayed, completed and failed (kept ones) (attributes `state`, `queue`)"
  })
} as const

/**
 * The producer service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Producer } from "effect-orchestrator"
 * import { Fib } from "./tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const producer = yield* Producer.Producer
 *   const handles = yield* producer.enqueueAll(Fib, [20, 21, 22], { priority: "low" })
 *   return yield* Effect.forEach(handles, (handle) => handle.await, { concurrency: "unbounded" })
 * }).pipe(Effect.provide(Producer.layer({ queue: "math" })))
 * ```
 */
export class Producer extends Context.Service<Producer, {
  /** Validates the payload and adds one job; returns its handle. */
  readonly enqueue: <T extends WorkerTask.Any>(
    task: T,
    payload: WorkerTask.Payload<T>,
    options?: EnqueueOptions
  ) => Effect.Effect<JobHandle<T>, EnqueueError>
  /**
   * Validates every payload, then adds them all (BullMQ's `addBulk`, 500 jobs per pipeline so that Redis works
   * on the first while the rest are built): nothing is added when one payload is invalid. Like `addBulk` it is
   * not a transaction: if Redis is lost midway, or the call is interrupted (no chunk is sent after that), the
   * jobs sent before stay queued. The jobs keep their order (FIFO within the priority). `idempotencyKey` is not
   * accepted here (give each its own `enqueue`).
   */
  readonly enqueueAll: <T extends WorkerTask.Any>(
    task: T,
    payloads: Iterable<WorkerTask.Payload<T>>,
    options?: Omit<EnqueueOptions, "idempotencyKey">
  ) => Effect.Effect<Array<JobHandle<T>>, EnqueueError>
  /** The handle of a job by id (from another process, say); `await` fails with `JobLost` if it is gone. */
  readonly handle: <T extends WorkerTask.Any>(task: T, id: string) => JobHandle<T>
  /** The queue's depth now, read from Redis. */
  readonly depth: Effect.Effect<QueueDepth, RedisUnavailable>
}>()("effect-orchestrator/Producer") {}

/**
 * The producer, connected to Redis; fails with `RedisUnavailable` or `InvalidConfig` (a bad option).
 *
 * @example
 * ```ts
 * import { Producer } from "effect-orchestrator"
 *
 * const layer = Producer.layer({ queue: "images", redis: { host: "127.0.0.1", connectTimeout: "2 seconds" } })
 * ```
 */
export const layer = (options: Options): Layer.Layer<Producer, RedisUnavailable | InvalidConfig> =>
  Layer.effect(Producer, make(options))

type Outcome =
  | { readonly _tag: "completed"; readonly returnvalue: unknown }
  | { readonly _tag: "failed"; readonly failedReason: string }
  | { readonly _tag: "removed" }
  | { readonly _tag: "lost" }
  | { readonly _tag: "closed" }

interface Waiters {
  readonly resumes: Set<(outcome: Outcome) => void>
  probedAt: number
}

/** Outcomes kept for handles not awaited yet. */
const recentOutcomes = 20_000

/** Results not seen in the event stream within this time are read from the job itself. */
const probeAfterMillis = 5_000

const statusOf = (state: string): JobStatus => {
  switch (state) {
    case "waiting":
    case "prioritized":
    case "waiting-children":
    case "paused":
      return "waiting"
    case "delayed":
    case "active":
    case "completed":
    case "failed":
      return state
    default:
      return "unknown"
  }
}

const isPriority = Schema.is(TaskPriority)
// The default options of `enqueue` and `enqueueAll`: a call without options reuses its task's preparation.
const noOptions: EnqueueOptions = {}
// Names the field and its value as configuration errors do: `retry.initialInterval`, `"-5 seconds"`.
const decodeRetry = decodeConfigExit(RetryPolicy, "retry")

/** Builds the producer in the current scope. */
export const make = (
  options: Options
): Effect.Effect<Producer["Service"], RedisUnavailable | InvalidConfig, Scope.Scope> =>
  Effect.gen(function*() {
    const redis = options.redis ?? {}
    const { host, port } = addressOf(redis)
    const prefix = options.prefix ?? defaultPrefix
    const name = options.queue
    const invalidName = queueNameError(name)
    if (invalidName !== undefined) return yield* invalidName
    const connectTimeout = connectTimeoutOf(redis)
    if (connectTimeout instanceof InvalidConfig) return yield* connectTimeout
    const metricsInterval = options.metricsInterval === undefined
      ? 1_000
      : millisOf(options.metricsInterval, "metricsInterval")
    if (metricsInterval instanceof InvalidConfig) return yield* metricsInterval
    const whenDisconnected = options.whenDisconnected ?? "wait"
    const removeOnComplete = keepJobs(options.keepCompleted ?? defaultKeepCompleted)
    const removeOnFail = keepJobs(options.keepFailed ?? defaultKeepFailed)
    const unavailable = (error: unknown) =>
      new RedisUnavailable({ host, port, detail: error instanceof Error ? error.message : String(error) })

    const { Queue: BullQueue, QueueEvents } = yield* bullmq
    const client: Redis = yield* connect(redis, "producer", connectTimeout)
    const eventsClient: Redis = yield* connect(redis, "producer-events", connectTimeout)
    const queue = new BullQueue(name, {
      connection: client,
      prefix,
      // Room for the events of a large burst: awaiting handles read their results from this stream.
      streams: { events: { maxLen: 100_000 } }
    })
    queue.on("error", () => {}) // connection errors: ioredis reconnects, commands wait for it
    yield* Effect.addFinalizer(() => Effect.promise(() => queue.close().catch(() => undefined)))

    // Read events from the moment the layer is built (Redis' clock), so no result after it is missed.
    const [seconds, micros] = yield* Effect.tryPromise({ try: () => client.time(), catch: unavailable })
    const events = new QueueEvents(name, {
      connection: eventsClient,
      prefix,
      autorun: false,
      lastEventId: `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}-0`
    })
    events.on("error", () => {})

    const waiters = new Map<string, Waiters>()
    // The latest outcomes, for awaits that begin after them (the await usually comes after the enqueue
    // returns, and a handle may be awaited twice): no round trip to Redis. Bounded: older ones are read again.
    const recent = new RecentMap<string, Outcome>(recentOutcomes)
    const settle = (jobId: string, outcome: Outcome): void => {
      recent.set(jobId, outcome)
      const entry = waiters.get(jobId)
      if (entry === undefined) return
      waiters.delete(jobId)
      for (const resume of entry.resumes) resume(outcome)
    }
    events.on("completed", ({ jobId, returnvalue }) => settle(jobId, { _tag: "completed", returnvalue }))
    events.on("failed", ({ failedReason, jobId }) => settle(jobId, { _tag: "failed", failedReason }))
    events.on("removed", ({ jobId }) => settle(jobId, { _tag: "removed" }))
    events.run().catch(() => undefined)
    yield* Effect.addFinalizer(() => Effect.promise(() => events.close().catch(() => undefined)))

    // Reads a job's outcome from the job itself: for results whose event came before the wait began, or was
    // lost while the connection was down.
    const probe = (jobId: string): void => {
      const entry = waiters.get(jobId)
      if (entry !== undefined) entry.probedAt = Date.now()
      // The state first: a job read before it finished would carry no result yet.
      queue.getJobState(jobId).then(async (state) => {
        if (state === "unknown") return settle(jobId, { _tag: "lost" })
        if (state !== "completed" && state !== "failed") return
        const job: Job | undefined = await queue.getJob(jobId)
        if (job === undefined) settle(jobId, { _tag: "lost" })
        else if (state === "completed") settle(jobId, { _tag: "completed", returnvalue: job.returnvalue })
        else settle(jobId, { _tag: "failed", failedReason: job.failedReason })
      }, () => undefined)
    }
    yield* Effect.sync(() => {
      const now = Date.now()
      let budget = 500
      for (const [jobId, entry] of waiters) {
        if (now - entry.probedAt < probeAfterMillis) continue
        probe(jobId)
        if (--budget === 0) break
      }
    }).pipe(Effect.delay(1_000), Effect.forever, Effect.forkScoped)

    const awaitOutcome = (jobId: string, enqueuedHere: number | undefined): Effect.Effect<Outcome> =>
      Effect.callback<Outcome>((resume) => {
        const known = recent.get(jobId)
        if (known !== undefined) return resume(Effect.succeed(known))
        const onOutcome = (outcome: Outcome) => resume(Effect.succeed(outcome))
        let entry = waiters.get(jobId)
        if (entry === undefined) {
          entry = { resumes: new Set(), probedAt: Date.now() }
          waiters.set(jobId, entry)
        }
        entry.resumes.add(onOutcome)
        // A job enqueued here a moment ago has its outcome still to come in the event stream, which is read
        // from before its enqueue; any other job may have finished already.
        if (enqueuedHere === undefined || Date.now() - enqueuedHere > 1_000) probe(jobId)
        return Effect.sync(() => {
          const current = waiters.get(jobId)
          if (current === undefined) return
          current.resumes.delete(onOutcome)
          if (current.resumes.size === 0) waiters.delete(jobId)
        })
      })

    const outcomeToEffect = <T extends WorkerTask.Any>(
      task: T,
      id: string,
      outcome: Outcome
    ): Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | JobError> => {
      switch (outcome._tag) {
        case "completed": {
          const value = typeof outcome.returnvalue === "object" && outcome.returnvalue !== null
            ? (outcome.returnvalue as { v?: unknown }).v
            : undefined
          const exit = codecsOf(task).decodeSuccess(value)
          return Exit.isSuccess(exit)
            ? Effect.succeed(exit.value as WorkerTask.Success<T>)
            : Effect.fail(new JobDataInvalid({ jobId: id, detail: `result: ${describeIssue(exit.cause)}` }))
        }
        case "failed": {
          const failure = codecsOf(task).decodeFailure(outcome.failedReason)
          return failure._tag === "Fail"
            ? Effect.fail(failure.error as WorkerTask.Error<T> | JobError)
            : Effect.die(failure.defect)
        }
        case "removed":
          return Effect.fail(
            new TaskCancelled({ taskId: id, taskName: task.name, reason: "removed from the queue before it ran" })
          )
        case "lost":
          return Effect.fail(
            new JobLost({ jobId: id, detail: "not found (removed, trimmed, or Redis lost its data)" })
          )
        case "closed":
          // The job goes on in Redis; another producer can await it with `handle(task, id)`.
          return Effect.fail(new PoolShutDown({ service: "Producer" }))
      }
    }

    const cancelJob = async (id: string): Promise<void> => {
      const job = await queue.getJob(id)
      if (job === undefined) return
      const state = await job.getState()
      if (state === "completed" || state === "failed" || state === "unknown") return
      if (state !== "active") {
        // A job that a consumer has just taken is locked and cannot be removed: it is interrupted instead.
        const removed = await job.remove().then(() => true, () => false)
        if (removed) return settle(id, { _tag: "removed" })
      }
      await client.set(cancelKey(prefix, name, id), "1", "EX", cancelMarkSeconds)
      await client.publish(cancelChannel(prefix, name), id)
    }

    // A handle's effects are built when they are read, not with the handle: `enqueueAll` makes one handle per
    // job, most of which are awaited once and never asked for their status or cancelled.
    class Handle<T extends WorkerTask.Any> implements JobHandle<T> {
      readonly #task: T
      readonly #enqueuedHere: number | undefined
      readonly id: string
      readonly taskName: T["name"]
      constructor(task: T, id: string, enqueuedHere: number | undefined) {
        this.#task = task
        this.#enqueuedHere = enqueuedHere
        this.id = id
        this.taskName = task.name
      }
      get await(): Effect.Effect<WorkerTask.Success<T>, WorkerTask.Error<T> | JobError> {
        return Effect.flatMap(
          awaitOutcome(this.id, this.#enqueuedHere),
          (outcome) => outcomeToEffect(this.#task, this.id, outcome)
        )
      }
      get status(): Effect.Effect<JobStatus, RedisUnavailable> {
        return Effect.tryPromise({ try: () => queue.getJobState(this.id), catch: unavailable }).pipe(
          Effect.map(statusOf)
        )
      }
      get cancel(): Effect.Effect<void, RedisUnavailable> {
        return Effect.tryPromise({ try: () => cancelJob(this.id), catch: unavailable })
      }
    }

    const makeHandle = <T extends WorkerTask.Any>(task: T, id: string, enqueuedHere?: number): JobHandle<T> =>
      new Handle(task, id, enqueuedHere)

    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const jobId of [...waiters.keys()]) settle(jobId, { _tag: "closed" })
      })
    )

    const invalid = (field: string, value: unknown, detail: string) =>
      new InvalidConfig({
        field,
        value: typeof value === "string" ? value : JSON.stringify(value) ?? String(value),
        detail
      })

    /** Job data and BullMQ options shared by every job of one call. */
    const prepare = (task: WorkerTask.Any, options: EnqueueOptions) => {
      const priority = options.priority ?? "normal"
      if (!isPriority(priority)) return invalid("priority", priority, `must be one of ${levels.join(", ")}`)
      const delay = options.delay === undefined ? 0 : millisOf(options.delay, "delay")
      if (typeof delay !== "number") return delay
      const timeout = options.timeout === undefined ? undefined : millisOf(options.timeout, "timeout")
      if (timeout instanceof InvalidConfig) return timeout
      let retry: RetryPolicy | undefined
      if (options.retry !== undefined) {
        const exit = decodeRetry(options.retry)
        if (Exit.isFailure(exit)) {
          const error = Option.getOrUndefined(Exit.findErrorOption(exit))
          return error instanceof InvalidConfig ? error : invalid("retry", options.retry, describeIssue(error))
        }
        retry = exit.value
      }
      return {
        data: (payload: unknown, trace: JobData["trace"]): JobData => ({
          v: 1,
          task: task.name,
          ...(payload === undefined ? {} : { payload }),
          priority,
          ...(timeout === undefined || timeout === 0 ? {} : { timeoutMillis: timeout }),
          ...(retry === undefined ? {} : { retry }),
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(trace === undefined ? {} : { trace }),
          enqueuedAt: Date.now()
        }),
        opts: {
          priority: bullPriority(priority),
          ...(delay > 0 ? { delay } : {}),
          attempts: retry?.maximumAttempts ?? 1,
          ...(retry === undefined ? {} : { backoff: { type: "orchestrator" } }),
          removeOnComplete,
          removeOnFail,
          stackTraceLimit: 0
        }
      }
    }

    const encodePayload = (task: WorkerTask.Any, payload: unknown): unknown | PayloadInvalid => {
      try {
        const encoded = codecsOf(task).encodePayload(payload)
        const binary = binaryAt(encoded)
        return binary === undefined
          ? encoded
          : new PayloadInvalid({ taskName: task.name, reason: "schema", detail: binaryDetail(binary) })
      } catch (error) {
        return new PayloadInvalid({ taskName: task.name, reason: "schema", detail: describeIssue(error) })
      }
    }

    const blocked = (): PoolShutDown | RedisUnavailable | undefined =>
      closed
        ? new PoolShutDown({ service: "Producer" })
        : whenDisconnected === "fail" && !isReady(client)
        ? new RedisUnavailable({ host, port, detail: "disconnected (whenDisconnected: \"fail\")" })
        : undefined
    const guard = Effect.suspend((): Effect.Effect<void, PoolShutDown | RedisUnavailable> => {
      const error = blocked()
      return error === undefined ? Effect.void : Effect.fail(error)
    })

    // The enqueue's own span (from `withSpan` below), whose context travels in the job.
    const traceOf = (fiber: Fiber.Fiber<unknown, unknown>): JobData["trace"] => {
      const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
      return span?._tag === "Span" ? { traceId: span.traceId, spanId: span.spanId, sampled: span.sampled } : undefined
    }
    const traceContext = Effect.withFiber((fiber) => Effect.succeed(traceOf(fiber)))

    // The preparation of a call without options, once per task: most enqueues give none.
    const preparedPlain = new WeakMap<WorkerTask.Any, Exclude<ReturnType<typeof prepare>, InvalidConfig>>()
    const prepareFor = (task: WorkerTask.Any, options: EnqueueOptions) => {
      if (options !== noOptions) return prepare(task, options)
      let prepared = preparedPlain.get(task)
      if (prepared === undefined) {
        const fresh = prepare(task, options)
        if (fresh instanceof InvalidConfig) return fresh
        preparedPlain.set(task, prepared = fresh)
      }
      return prepared
    }

    // One step, without a generator: on a single job's round trip every microsecond before `queue.add` counts.
    // `useSpan`, not `withSpan`: the span only has to exist (its context travels in the job) and end with the
    // enqueue; nothing inside runs as its child, so the fiber's context is not rebuilt around the call.
    const enqueue = <T extends WorkerTask.Any>(
      task: T,
      payload: WorkerTask.Payload<T>,
      options: EnqueueOptions = noOptions
    ): Effect.Effect<JobHandle<T>, EnqueueError> =>
      Effect.useSpan(`Producer.enqueue ${task.name}`, {
        kind: "producer",
        attributes: { queue: name, task: task.name, priority: options.priority ?? "normal" }
      }, (span): Effect.Effect<JobHandle<T>, EnqueueError> => {
        const refused = blocked()
        if (refused !== undefined) return Effect.fail(refused)
        const encoded = encodePayload(task, payload)
        if (encoded instanceof PayloadInvalid) return Effect.fail(encoded)
        const prepared = prepareFor(task, options)
        if (prepared instanceof InvalidConfig) return Effect.fail(prepared)
        let jobId: string | undefined
        if (options.idempotencyKey !== undefined) {
          const id = jobIdOf(options.idempotencyKey)
          if (id instanceof InvalidConfig) return Effect.fail(id)
          jobId = id
        }
        const trace = { traceId: span.traceId, spanId: span.spanId, sampled: span.sampled }
        const data = encodeJobData(prepared.data(encoded, trace))
        return Effect.map(
          Effect.tryPromise({
            // An existing id makes BullMQ return the job already there: the idempotency key's first job.
            try: () => queue.add(task.name, data, jobId === undefined ? prepared.opts : { ...prepared.opts, jobId }),
            catch: unavailable
          }),
          // A job found under an idempotency key may have finished long ago: its await reads it from Redis.
          (job) => makeHandle(task, job.id!, jobId === undefined ? Date.now() : undefined)
        )
      })

    const enqueueAll = <T extends WorkerTask.Any>(
      task: T,
      payloads: Iterable<WorkerTask.Payload<T>>,
      options: Omit<EnqueueOptions, "idempotencyKey"> = noOptions
    ): Effect.Effect<Array<JobHandle<T>>, EnqueueError> =>
      Effect.gen(function*() {
        yield* guard
        const prepared = prepareFor(task, options)
        if (prepared instanceof InvalidConfig) return yield* prepared
        const trace = yield* traceContext
        // Every job of the call shares its data but the payload: encode that part once.
        const template = encodeJobData(prepared.data(undefined, trace)) as Record<string, unknown>
        const jobs: Array<{ name: string; data: unknown; opts: typeof prepared.opts }> = []
        let index = 0
        for (const payload of payloads) {
          const encoded = encodePayload(task, payload)
          if (encoded instanceof PayloadInvalid) {
            return yield* new PayloadInvalid({ ...encoded, detail: `payloads[${index}]: ${encoded.detail}` })
          }
          jobs.push({
            name: task.name,
            data: encoded === undefined ? template : { ...template, payload: encoded },
            opts: prepared.opts
          })
          index++
        }
        // In chunks, so Redis works on the first while the rest are built (see `BulkAdd`).
        const added = yield* Effect.tryPromise({
          try: (signal) => addInChunks(jobs, (chunk) => queue.addBulk(chunk), { signal }),
          catch: unavailable
        })
        const now = Date.now()
        return added.map((job) => makeHandle(task, job.id!, now))
      }).pipe(
        Effect.withSpan(`Producer.enqueueAll ${task.name}`, {
          kind: "producer",
          attributes: { queue: name, task: task.name }
        }, { captureStackTrace: false })
      )

    const depth: Effect.Effect<QueueDepth, RedisUnavailable> = Effect.tryPromise({
      try: async () => {
        const [perPriority, counts] = await Promise.all([
          queue.getCountsPerPriority(levels.map(bullPriority)),
          queue.getJobCounts("active", "delayed", "completed", "failed")
        ])
        const byPriority = Object.fromEntries(
          levels.map((level) => [level, perPriority[String(bullPriority(level))] ?? 0])
        ) as { [P in TaskPriority]: number }
        return {
          byPriority,
          active: counts["active"] ?? 0,
          delayed: counts["delayed"] ?? 0,
          completed: counts["completed"] ?? 0,
          failed: counts["failed"] ?? 0
        }
      },
      catch: unavailable
    })

    const interval = metricsInterval
    if (interval > 0) {
      yield* depth.pipe(
        Effect.flatMap((d) =>
          Effect.all([
            ...levels.map((priority) =>
              Metric.update(Metric.withAttributes(metrics.depth, { queue: name, priority }), d.byPriority[priority])
            ),
            ...(["active", "delayed", "completed", "failed"] as const).map((state) =>
              Metric.update(Metric.withAttributes(metrics.jobs, { queue: name, state }), d[state])
            )
          ], { discard: true })
        ),
        Effect.ignore,
        Effect.delay(interval),
        Effect.forever,
        Effect.forkScoped
      )
    }

    return Producer.of({ enqueue, enqueueAll, handle: (task, id) => makeHandle(task, id), depth })
  })
