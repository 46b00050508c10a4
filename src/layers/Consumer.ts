/**
 * The consumer side of the distributed queue: pull the jobs of a BullMQ queue and run each through the local
 * `Orchestrator`, so CPU work runs on worker threads and this process's event loop stays free to renew the
 * jobs' locks (a CPU-bound BullMQ processor blocks it and gets its jobs marked stalled, BullMQ #631, #2857).
 *
 * - **What runs**: only the `WorkerTask` definitions in `tasks`, looked up by the name in the job. Job data is
 *   decoded with its schema, then the payload with the task's schema, before a handler sees it; nothing that
 *   comes from Redis is ever evaluated as code. A job for a task not served here fails with `UnknownTask`, data
 *   that does not decode with `JobDataInvalid` or `PayloadInvalid`, all at once and without retries.
 * - **Where a job runs**: on the Orchestrator's worker threads, so CPU work never blocks this process's event
 *   loop (and its lock renewals); or, for the tasks given in-process `handlers` (work that mostly waits: HTTP
 *   calls, database writes; no worker entry needed for them), on this process's runtime through the
 *   Orchestrator's io lane, without the round trip to a worker thread (measured: no faster for tiny jobs, the io
 *   lane's admission costs about as much; see docs/scale-out.md).
 * - **Scheduling**: `concurrency` jobs at once per consumer; the local Orchestrator's scheduler then applies
 *   priorities, per-key fairness (the job's `key`) and its rate limits; `limiter` is BullMQ's global rate limit
 *   across every consumer of the queue.
 * - **Retries** follow the job's `RetryPolicy` (BullMQ re-queues the job with the policy's backoff, so the next
 *   attempt may run on another consumer); `nonRetryable` tags, defects and cancellations fail at once.
 *   `timeout` and `attemptTimeout` bound each attempt, `deadline` all of them from the enqueue.
 * - **Recovery**: with the defaults (lock 3 s, stalled check every 2 s) the jobs of a consumer that died are
 *   back in the queue within 10 s (worst case about lock + 2 × interval = 7 s); BullMQ's defaults (30 s / 30 s)
 *   take 52–84 s. Keep the lock longer than any pause of this process's event loop.
 * - **Cancellation**: a producer's `cancel` of a running job interrupts it here (its worker call is
 *   interrupted too); the job fails with `TaskCancelled`.
 * - **Shutdown** when the layer's scope closes: stop fetching, let active jobs finish until
 *   `shutdownDeadline`, then interrupt the rest and hand them back to the queue (they wait again, their
 *   attempt not counted), and close the connections.
 * - **Redis restarts**: connections reconnect on their own; a watchdog restarts BullMQ's fetch loop if it
 *   stopped (BullMQ #648, #3185).
 * - **Retention**: completed and failed jobs are trimmed (`keepCompleted`, `keepFailed`) so Redis does not grow.
 * - **Observability**: a span per job (`Consumer.job <task>`) whose parent is the producer's span (none for
 *   jobs on worker threads under Effect's default tracer, which records nothing); counters
 *   `orchestrator_distributed_consumer_{completed,failed,retried,stalled}_total` and the gauge
 *   `orchestrator_distributed_consumer_active` (attribute `queue`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Consumer, Orchestrator } from "effect-orchestrator"
 * import { ImageTasks } from "./tasks.ts" // WorkerTask.group(Resize, ...), served by ./worker.ts
 *
 * const ConsumerLive = Consumer.layer({ queue: "images", tasks: ImageTasks, concurrency: 16 }).pipe(
 *   Layer.provide(Orchestrator.layer({ entry: new URL("./worker.ts", import.meta.url) }))
 * )
 * Layer.launch(ConsumerLive).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import type { Job } from "bullmq"
import { Cause, Context, Effect, Exit, Layer, Metric, Option, Tracer } from "effect"
import type { Duration, Fiber, Scope } from "effect"
import type { Redis } from "ioredis"
import * as os from "node:os"
import { JobDataInvalid } from "../domain/DistributedError.ts"
import { RedisUnavailable } from "../domain/DistributedError.ts"
import { InvalidConfig, PayloadInvalid, TaskCancelled, TaskTimeout, UnknownTask } from "../domain/OrchestratorError.ts"
import * as Task from "../domain/Task.ts"
import * as WorkerTask from "../domain/WorkerTask.ts"
import { bullmq } from "../runtime/distributed/Drivers.ts"
import * as JobSpan from "../runtime/distributed/JobSpan.ts"
import {
  backoffMillis,
  binaryAt,
  binaryDetail,
  codecsOf,
  decodeJobData,
  describeIssue,
  isRetryable
} from "../runtime/distributed/JobWire.ts"
import type { Failure, JobData } from "../runtime/distributed/JobWire.ts"
import {
  cancelChannel,
  cancelKey,
  defaultKeepCompleted,
  defaultKeepFailed,
  defaultLockDurationMillis,
  defaultMaxStalledCount,
  defaultPrefix,
  defaultStalledIntervalMillis,
  keepJobs,
  millisOf,
  queueNameError
} from "../runtime/distributed/QueueSettings.ts"
import type { Retention } from "../runtime/distributed/QueueSettings.ts"
import { RecentMap } from "../runtime/distributed/RecentMap.ts"
import { addressOf, connect, connectTimeoutOf } from "../runtime/distributed/RedisConnection.ts"
import type { RedisOptions } from "../runtime/distributed/RedisConnection.ts"
import { TurnBatch } from "../runtime/distributed/TurnBatch.ts"
import { Orchestrator } from "./Orchestrator.ts"

/** Options of the consumer's layer. */
export interface Options<G extends WorkerTask.Group<WorkerTask.Any>> {
  /** The queue's name (as given to the producers). */
  readonly queue: string
  /** The definitions this consumer serves; the Orchestrator's worker entry must serve those without `handlers`. */
  readonly tasks: G
  /**
   * In-process handlers for some of `tasks`: those run on this process's runtime (the Orchestrator's io lane, with
   * its priorities, fairness keys, timeouts and spans) instead of a worker thread. Only for work that mostly waits;
   * a handler that computes for long blocks the event loop that renews the jobs' locks. The io lane's permits
   * (the Orchestrator's `scheduler.permits`, by default the machine's parallelism) cap how many run at once: give
   * it at least `concurrency`.
   */
  readonly handlers?: Partial<WorkerTask.Handlers<G>> | undefined
  readonly redis?: RedisOptions | undefined
  /** Key prefix in Redis; the producers' one. Default `"orchestrator"`. */
  readonly prefix?: string | undefined
  /** Jobs run at once by this consumer. Default 16. */
  readonly concurrency?: number | undefined
  /** Global rate limit across every consumer of the queue: at most `max` jobs per `duration`. */
  readonly limiter?: { readonly max: number; readonly duration: Duration.Input } | undefined
  /** Lock of an active job, renewed every half of it. Default 3 s. */
  readonly lockDuration?: Duration.Input | undefined
  /** How often stalled jobs are looked for. Default 2 s. */
  readonly stalledInterval?: Duration.Input | undefined
  /** Times one job may be found stalled before it fails (with `WorkerCrashed`). Default 3. */
  readonly maxStalledCount?: number | undefined
  /** How long active jobs may finish when the scope closes, before they are handed back. Default 10 s. */
  readonly shutdownDeadline?: Duration.Input | undefined
  /** Completed jobs kept in Redis. Default: the last 10,000, for at most one hour. */
  readonly keepCompleted?: Retention | undefined
  /** Failed jobs kept in Redis. Default: the last 10,000, for at most one day. */
  readonly keepFailed?: Retention | undefined
  /** Written into each job it runs (BullMQ's `processedBy`). Default `<hostname>:<pid>`. */
  readonly name?: string | undefined
}

/** A snapshot of one consumer. */
export interface ConsumerStats {
  readonly active: number
  readonly completed: number
  readonly failed: number
  readonly retried: number
  readonly stalled: number
  readonly running: boolean
}

/** The consumer's metrics (attribute `queue`). */
export const metrics = {
  active: Metric.gauge("orchestrator_distributed_consumer_active", { description: "Jobs running on this consumer" }),
  completed: Metric.counter("orchestrator_distributed_consumer_completed_total", {
    description: "Jobs this consumer completed",
    incremental: true
  }),
  failed: Metric.counter("orchestrator_distributed_consumer_failed_total", {
    description: "Jobs that failed for good on this consumer",
    incremental: true
  }),
  retried: Metric.counter("orchestrator_distributed_consumer_retried_total", {
    description: "Failed attempts on this consumer that will be retried",
    incremental: true
  }),
  stalled: Metric.counter("orchestrator_distributed_consumer_stalled_total", {
    description: "Stalled jobs (their consumer died) that this consumer's check moved back to the queue",
    incremental: true
  })
} as const

/**
 * The consumer service: its stats. The work happens while its layer is alive.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Consumer } from "effect-orchestrator"
 *
 * const report = Effect.gen(function*() {
 *   const consumer = yield* Consumer.Consumer
 *   const stats = yield* consumer.stats
 *   yield* Effect.log(`active ${stats.active}, completed ${stats.completed}`)
 * })
 * ```
 */
export class Consumer extends Context.Service<Consumer, {
  readonly stats: Effect.Effect<ConsumerStats>
}>()("effect-orchestrator/Consumer") {}

/**
 * The consumer: connects to Redis (or fails with `RedisUnavailable`) and serves the queue until its scope
 * closes. It runs jobs through the `Orchestrator` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Consumer, Orchestrator } from "effect-orchestrator"
 * import { Tasks } from "./tasks.ts"
 *
 * const layer = Consumer.layer({ queue: "images", tasks: Tasks, shutdownDeadline: "30 seconds" }).pipe(
 *   Layer.provide(Orchestrator.layer({ entry: new URL("./worker.ts", import.meta.url) }))
 * )
 * ```
 */
export const layer = <G extends WorkerTask.Group<WorkerTask.Any>>(
  options: Options<G>
): Layer.Layer<Consumer, RedisUnavailable | InvalidConfig, Orchestrator> => Layer.effect(Consumer, make(options))

type Outcome =
  | { readonly _tag: "ok"; readonly value: unknown }
  | { readonly _tag: "fail"; readonly reason: string; readonly retry: boolean }
  | { readonly _tag: "handback" }

interface Control {
  reason: "cancel" | "handback" | undefined
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

const stop = (control: Control, reason: "cancel" | "handback"): void => {
  if (control.reason !== undefined) return
  control.reason = reason
  control.fiber.interruptUnsafe()
}

const positiveDuration = (
  field: string,
  value: Duration.Input | undefined,
  fallback: number
): number | InvalidConfig => {
  if (value === undefined) return fallback
  const millis = millisOf(value, field)
  if (millis instanceof InvalidConfig || millis > 0) return millis
  return new InvalidConfig({ field, value: String(value), detail: "must be a positive duration" })
}

const positive = (field: string, value: number | undefined, fallback: number): number | InvalidConfig => {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) {
    return new InvalidConfig({ field, value: String(value), detail: "must be a positive finite number" })
  }
  return value
}

/** Builds the consumer in the current scope. */
export const make = <G extends WorkerTask.Group<WorkerTask.Any>>(
  options: Options<G>
): Effect.Effect<Consumer["Service"], RedisUnavailable | InvalidConfig, Scope.Scope | Orchestrator> =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const prefix = options.prefix ?? defaultPrefix
    const name = options.queue
    const invalidName = queueNameError(name)
    if (invalidName !== undefined) return yield* invalidName
    const settings = {
      concurrency: positive("concurrency", options.concurrency, 16),
      lockDuration: positiveDuration("lockDuration", options.lockDuration, defaultLockDurationMillis),
      stalledInterval: positiveDuration("stalledInterval", options.stalledInterval, defaultStalledIntervalMillis),
      maxStalledCount: positive("maxStalledCount", options.maxStalledCount, defaultMaxStalledCount),
      shutdownDeadline: positiveDuration("shutdownDeadline", options.shutdownDeadline, 10_000),
      connectTimeout: connectTimeoutOf(options.redis ?? {})
    }
    for (const value of Object.values(settings)) if (value instanceof InvalidConfig) return yield* value
    const { concurrency, connectTimeout, lockDuration, maxStalledCount, shutdownDeadline, stalledInterval } =
      settings as {
        [K in keyof typeof settings]: number
      }
    let limiterDuration = 1
    if (options.limiter !== undefined) {
      const max = positive("limiter.max", options.limiter.max, 1)
      if (max instanceof InvalidConfig) return yield* max
      const duration = positiveDuration("limiter.duration", options.limiter.duration, 1)
      if (duration instanceof InvalidConfig) return yield* duration
      limiterDuration = duration
    }

    const byName = new Map<string, WorkerTask.Any>(options.tasks.tasks.map((task) => [task.name, task]))
    const known = [...byName.keys()]
    const inProcess = new Map<string, (payload: unknown) => Effect.Effect<unknown, unknown>>()
    for (const [taskName, handler] of Object.entries(options.handlers ?? {})) {
      if (!byName.has(taskName) || typeof handler !== "function") {
        return yield* new InvalidConfig({
          field: `handlers.${taskName}`,
          value: typeof handler,
          detail: byName.has(taskName)
            ? "must be a function"
            : `no such task among \`tasks\` (${known.join(", ")})`
        })
      }
      inProcess.set(taskName, handler as (payload: unknown) => Effect.Effect<unknown, unknown>)
    }
    const redis = options.redis ?? {}
    const { UnrecoverableError, WaitingError, Worker } = yield* bullmq
    const client: Redis = yield* connect(redis, "consumer", connectTimeout)
    const workerClient: Redis = yield* connect(redis, "consumer-worker", connectTimeout)
    const subscriber: Redis = yield* connect(redis, "consumer-cancel", connectTimeout)

    const context = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(context)
    const attributes = { queue: name }
    const counters = { completed: 0, failed: 0, retried: 0, stalled: 0 }
    const count = (key: keyof typeof counters) => {
      counters[key]++
    }

    // Jobs running here, by id: how to stop each one.
    const active = new Map<string, Control>()
    // Cancellations heard on the channel, for a job that becomes active here just after its message.
    const cancelled = new RecentMap<string, true>(10_000)

    // The series are read from the counters when exported, so the per-job path records nothing.
    const noop = () => {}
    const registrations = [
      Metric.registerUnsafe(Metric.withAttributes(metrics.active, attributes), context, {
        get: () => ({ value: active.size }),
        update: noop,
        modify: noop
      }),
      ...(["completed", "failed", "retried", "stalled"] as const).map((key) =>
        Metric.registerUnsafe(Metric.withAttributes(metrics[key], attributes), context, {
          get: () => ({ count: counters[key], incremental: true }),
          update: noop,
          modify: noop
        })
      )
    ]
    yield* Effect.addFinalizer(() => Effect.sync(() => registrations.forEach((r) => r.remove())))

    // A refusal here is most likely an ACL without the channel (`&<prefix>:<queue>:cancel`).
    yield* Effect.tryPromise({
      try: () => subscriber.subscribe(cancelChannel(prefix, name)),
      catch: (error) => {
        const { host, port } = addressOf(redis)
        return new RedisUnavailable({
          host,
          port,
          detail: `cannot subscribe to ${cancelChannel(prefix, name)}: ${
            error instanceof Error ? error.message : String(error)
          }`
        })
      }
    })
    subscriber.on("message", (_channel: string, jobId: string) => {
      const control = active.get(jobId)
      if (control !== undefined) return stop(control, "cancel")
      cancelled.set(jobId, true)
    })

    const failWith = (task: WorkerTask.Any | undefined, failure: Failure, retry: boolean): Outcome => ({
      _tag: "fail",
      reason: task === undefined
        ? codecsOf(unknownTaskCodec).encodeFailure(failure)
        : codecsOf(task).encodeFailure(failure),
      retry
    })

    const failed = (task: WorkerTask.Any, error: unknown): Outcome => failWith(task, { _tag: "Fail", error }, false)

    /** What a job asks for, checked and decoded: an outcome at once, or the task and how to run it. */
    const prepare = (job: Job): Outcome | {
      readonly task: WorkerTask.Any
      readonly payload: unknown
      readonly data: JobData
      readonly timeoutMillis: number
      readonly checkMark: boolean
    } => {
      const jobId = job.id!
      const decoded = decodeJobData(job.data)
      if (Exit.isFailure(decoded)) {
        const detail = describeIssue(Option.getOrUndefined(Cause.findErrorOption(decoded.cause)))
        return failWith(undefined, { _tag: "Fail", error: new JobDataInvalid({ jobId, detail }) }, false)
      }
      const data: JobData = decoded.value
      const task = byName.get(data.task)
      if (task === undefined) {
        return failWith(undefined, { _tag: "Fail", error: new UnknownTask({ taskName: data.task, known }) }, false)
      }
      const payload = codecsOf(task).decodePayload(data.payload)
      if (Exit.isFailure(payload)) {
        const detail = describeIssue(Option.getOrUndefined(Cause.findErrorOption(payload.cause)))
        return failed(task, new PayloadInvalid({ taskName: task.name, reason: "schema", detail }))
      }
      const policy = data.retry
      let timeoutMillis = Math.min(data.timeoutMillis ?? Infinity, policy?.attemptTimeout ?? Infinity)
      if (policy?.deadline !== undefined) {
        const left = data.enqueuedAt + policy.deadline - Date.now()
        if (left <= 0) {
          return failed(
            task,
            new TaskTimeout({ taskId: jobId, taskName: task.name, timeoutMillis: policy.deadline })
          )
        }
        timeoutMillis = Math.min(timeoutMillis, left)
      }
      if (cancelled.delete(jobId)) return failed(task, cancelledBy(jobId, task))
      // The mark in Redis covers a cancellation sent before this consumer subscribed; only a job that started
      // before (retried, stalled or handed back) can have one, so first attempts skip the round trip.
      return { task, payload: payload.value, data, timeoutMillis, checkMark: (job.attemptsStarted ?? 1) > 1 }
    }

    const cancelledBy = (jobId: string, task: WorkerTask.Any) =>
      new TaskCancelled({ taskId: jobId, taskName: task.name, reason: "cancelled by its producer" })

    const outcomeOf = (task: WorkerTask.Any, policy: JobData["retry"], exit: Exit.Exit<unknown, unknown>): Outcome => {
      if (Exit.isSuccess(exit)) {
        try {
          const value = codecsOf(task).encodeSuccess(exit.value)
          const binary = binaryAt(value)
          if (binary !== undefined) {
            // Stored as JSON it would come back as an object of numbered fields: fail it rather than corrupt it.
            const defect = new TypeError(`the result of task "${task.name}" holds ${binaryDetail(binary)}`)
            return failWith(task, { _tag: "Die", defect }, false)
          }
          return { _tag: "ok", value }
        } catch (error) {
          return failWith(task, { _tag: "Die", defect: error }, false)
        }
      }
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isSome(error)) {
        return failWith(task, { _tag: "Fail", error: error.value }, isRetryable(policy, error.value))
      }
      return failWith(task, { _tag: "Die", defect: Cause.squash(exit.cause) }, false)
    }

    const runJob = (job: Job, prepared: Exclude<ReturnType<typeof prepare>, Outcome>) => {
      const { data, payload, task, timeoutMillis } = prepared
      const jobId = job.id!
      const taskOptions = {
        id: `job-${jobId}`,
        name: task.name,
        priority: data.priority,
        ...(data.key === undefined ? {} : { key: data.key }),
        ...(timeoutMillis === Infinity ? {} : { timeout: Math.max(1, Math.floor(timeoutMillis)) })
      }
      const handler = inProcess.get(task.name)
      const run = handler === undefined
        ? orchestrator.offload(task, payload, taskOptions)
        : orchestrator.run(Task.make(Effect.suspend(() => handler(payload)), { ...taskOptions, kind: "io" }))
      const checked = prepared.checkMark
        ? Effect.flatMap(
          Effect.promise(() => client.exists(cancelKey(prefix, name, jobId)).catch(() => 0)),
          (marked) => marked > 0 ? Effect.fail(cancelledBy(jobId, task)) : run
        )
        : run
      return checked
    }

    // The span of a job (`Consumer.job <task>`, a child of the producer's span): made before its fiber starts
    // where `JobSpan` covers the context, with `Effect.withSpan` otherwise.
    const jobSpans = JobSpan.make(context)
    // Under Effect's default tracer, which records nothing, the span of a job that runs on a worker thread could be
    // seen by nobody: none of the user's code runs in its fiber here, and the pool sends no trace context under
    // that tracer (see `TaskExecution.directCall`). So such a job makes none: about 1.5 µs a job when warm, and
    // 30 µs after a pause, when the span's code and data are out of the CPU's caches. In-process handlers keep
    // theirs, as user code can read it.
    const untraced = Context.get(context, Tracer.Tracer) === Tracer.nativeTracer
    const startJob = (job: Job, prepared: Exclude<ReturnType<typeof prepare>, Outcome>) => {
      const run = runJob(job, prepared)
      if (untraced && !inProcess.has(prepared.task.name)) return runFork(run)
      const spanName = `Consumer.job ${prepared.task.name}`
      const attributes = { queue: name, jobId: job.id!, attempt: job.attemptsMade + 1 }
      const trace = prepared.data.trace
      const parent = trace === undefined ? undefined : Tracer.externalSpan(trace)
      if (jobSpans !== undefined) {
        const started = jobSpans.start(spanName, "consumer", attributes, parent)
        const fiber = Effect.runForkWith(started.context)(run)
        fiber.addObserver((exit) => jobSpans.end(started.span, exit))
        return fiber
      }
      return runFork(run.pipe(
        Effect.withSpan(spanName, {
          kind: "consumer",
          attributes,
          ...(parent === undefined ? {} : { parent })
        }, { captureStackTrace: false })
      ))
    }

    let closing = false
    const starting = new TurnBatch()
    const processor = (job: Job, token?: string): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const jobId = job.id!
        const settle = (outcome: Outcome): void => {
          switch (outcome._tag) {
            case "ok":
              count("completed")
              return resolve({ v: outcome.value })
            case "fail": {
              const retried = outcome.retry && job.attemptsMade + 1 < (job.opts.attempts ?? 1)
              count(retried ? "retried" : "failed")
              return reject(outcome.retry ? new Error(outcome.reason) : new UnrecoverableError(outcome.reason))
            }
            case "handback":
              // Back to waiting, this attempt not counted: BullMQ leaves a job alone after a WaitingError.
              return void job.moveToWait(token).then(() => reject(new WaitingError()), reject)
          }
        }
        // A job that finds others running starts with the rest handed over in this turn, so their worker calls
        // leave in one message (see `TurnBatch`); one that finds none starts at once, without the wait.
        const start = () => {
          const prepared = prepare(job)
          if ("_tag" in prepared) return settle(prepared)
          const fiber = startJob(job, prepared)
          // A cancellation or a hand-back interrupts the fiber; the reason says what the job ends as.
          const control: Control = { reason: undefined, fiber }
          active.set(jobId, control)
          fiber.addObserver((exit) => {
            active.delete(jobId)
            if (control.reason === "handback") return settle({ _tag: "handback" })
            if (control.reason === "cancel") return settle(failed(prepared.task, cancelledBy(jobId, prepared.task)))
            settle(outcomeOf(prepared.task, prepared.data.retry, exit))
          })
        }
        // (What `start` throws here rejects the promise, as an executor's throw does.)
        if (active.size === 0 && starting.size === 0) start()
        else starting.add(start, reject)
      })

    const worker = new Worker(name, processor, {
      name: options.name ?? `${os.hostname()}:${process.pid}`,
      connection: workerClient,
      prefix,
      autorun: false,
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      // After a lost connection, BullMQ's fetch loop waits this long before it tries again (default 15 s).
      runRetryDelay: 500,
      removeOnComplete: keepJobs(options.keepCompleted ?? defaultKeepCompleted),
      removeOnFail: keepJobs(options.keepFailed ?? defaultKeepFailed),
      ...(options.limiter === undefined
        ? {}
        : { limiter: { max: options.limiter.max, duration: limiterDuration } }),
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, _error?: Error, job?: { data: unknown }) => {
          const exit = decodeJobData(job?.data)
          return Exit.isSuccess(exit) && exit.value.retry !== undefined
            ? backoffMillis(exit.value.retry, attemptsMade)
            : 0
        }
      }
    })
    worker.on("error", () => {}) // connection errors: ioredis reconnects and the watchdog restarts the loop
    worker.on("stalled", () => count("stalled"))

    const start = () => {
      if (!closing && !worker.isRunning()) worker.run().catch(() => undefined)
    }
    start()
    // BullMQ's loop can end after a reconnection (BullMQ #648, #3185): start it again.
    yield* Effect.sync(start).pipe(Effect.delay(1_000), Effect.forever, Effect.forkScoped)

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closing = true
        const closed = worker.close()
        const finished = await Promise.race([
          closed.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), shutdownDeadline))
        ])
        if (!finished) {
          for (const control of active.values()) stop(control, "handback")
          await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))])
          await worker.close(true).catch(() => undefined)
        }
      })
    )

    return Consumer.of({
      stats: Effect.sync(() => ({ active: active.size, ...counters, running: worker.isRunning() }))
    })
  })

// Failures of jobs whose task is unknown here are encoded with the library's errors only.
const unknownTaskCodec: WorkerTask.Any = WorkerTask.make("effect-orchestrator/unknown-task")
