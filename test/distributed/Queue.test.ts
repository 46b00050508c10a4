// Producer and Consumer against a real redis-server, with the consumer in this process (on the Orchestrator's
// in-process workers): typed values and errors across Redis, validation, retries, cancellation, idempotency,
// priorities, timeouts, tracing, metrics and the faults that must be typed.
import { assert, describe, it } from "@effect/vitest"
import { Queue as BullQueue } from "bullmq"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Metric, Option, Scope, Tracer } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { freePort, startRedis } from "../../scripts/redis-server.ts"
import type { RedisServer } from "../../scripts/redis-server.ts"
import type { InvalidConfig } from "../../src/domain/OrchestratorError.ts"
import * as Consumer from "../../src/layers/Consumer.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import * as Producer from "../../src/layers/Producer.ts"
import { serve } from "../../src/worker.ts"
import { handlers } from "./fixtures/handlers.ts"
import {
  Bytes,
  Charge,
  ClonedPayload,
  ClonedResult,
  Declined,
  Defect,
  Flaky,
  Inc,
  Slow,
  Stamp,
  Tasks,
  Unserved
} from "./fixtures/tasks.ts"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

let queues = 0
const freshQueue = () => `q${++queues}-${process.pid}`

const served = serve(Tasks, handlers)

const consumerLayer = (
  queue: string,
  options: Partial<Consumer.Options<typeof Tasks>> = {},
  permits = 4
) =>
  Consumer.layer({ queue, tasks: Tasks, redis: { port: redis.port }, concurrency: permits, ...options }).pipe(
    Layer.provide(Orchestrator.layerTest(served, { scheduler: { permits } }))
  )

const producerLayer = (queue: string, options: Partial<Producer.Options> = {}) =>
  Producer.layer({ queue, redis: { port: redis.port }, metricsInterval: 0, ...options })

const bull = (queue: string) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new BullQueue(queue, {
        connection: new Redis({ port: redis.port, maxRetriesPerRequest: null }).on("error", () => {}),
        prefix: "orchestrator"
      }).on("error", () => {})
    ),
    (q) => Effect.promise(() => q.close())
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), `expected a failure, got ${JSON.stringify(exit)}`)
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), `expected a typed failure, got ${String(exit)}`)
  return (error as Option.Some<E>).value
}

describe("Producer and Consumer (in-process consumer, real Redis)", () => {
  it.live("round trip: the success value decodes with the task's schema (Date fields included)", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const a = yield* producer.enqueue(Inc, 41)
      const b = yield* producer.enqueue(Charge, { account: "acme", cents: 500 })
      assert.strictEqual(yield* a.await, 42)
      const charged = yield* b.await
      assert.strictEqual(charged.account, "acme")
      assert.instanceOf(charged.at, Date)
      assert.strictEqual(charged.at.toISOString(), "2026-12-01T12:00:00.000Z")
      assert.strictEqual(yield* a.status, "completed")
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("handles: effects read from a destructured handle, awaited twice, jobs of several tasks without options", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      // Each call without options reuses its own task's preparation: the name and schema must stay the task's.
      const inc = yield* producer.enqueue(Inc, 1)
      const charge = yield* producer.enqueue(Charge, { account: "acme", cents: 7 })
      const [many] = yield* producer.enqueueAll(Inc, [10])
      const { await: awaitInc, cancel, id, status, taskName } = inc
      assert.strictEqual(taskName, "inc")
      assert.strictEqual(charge.taskName, Charge.name)
      assert.strictEqual(yield* awaitInc, 2)
      assert.strictEqual(yield* awaitInc, 2)
      assert.strictEqual(yield* inc.await, 2)
      assert.strictEqual((yield* charge.await).account, "acme")
      assert.strictEqual(yield* many!.await, 11)
      assert.strictEqual(yield* status, "completed")
      yield* cancel // a finished job: nothing happens
      assert.strictEqual(yield* producer.handle(Inc, id).status, "completed")
      const q = yield* bull(queue)
      const job = yield* Effect.promise(() => q.getJob(charge.id))
      assert.strictEqual(job?.name, Charge.name)
      assert.strictEqual((job?.data as { task: string }).task, Charge.name)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("typed error arrives as the same class with its fields; defects arrive as defects", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handle = yield* producer.enqueue(Charge, { account: "acme", cents: 5_000 })
      const error = failureOf(yield* Effect.exit(handle.await))
      assert.instanceOf(error, Declined)
      const declined = error as Declined
      assert.strictEqual(declined.code, 402)
      assert.strictEqual(declined.account, "acme")
      assert.instanceOf(declined.at, Date)
      assert.strictEqual(declined.summary, "acme: 402")
      const caught = yield* handle.await.pipe(Effect.catchTag("Declined", (e) => Effect.succeed(e.code)))
      assert.strictEqual(caught, 402)

      const dies = yield* producer.enqueue(Defect, "out of range")
      const exit = yield* Effect.exit(dies.await)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), String(exit))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.include(String((defect as Error)?.message), "out of range")
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("a payload failing its schema is rejected at enqueue, naming the field; nothing is sent", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const error = failureOf(
        yield* Effect.exit(producer.enqueue(Charge, { account: "acme", cents: -3 } as never))
      )
      assert.strictEqual(error._tag, "PayloadInvalid")
      assert.include((error as { detail: string }).detail, "cents")
      const bad = failureOf(yield* Effect.exit(producer.enqueueAll(Inc, [1, 2, "three" as never])))
      assert.strictEqual(bad._tag, "PayloadInvalid")
      assert.include((bad as { detail: string }).detail, "payloads[2]")
      const q = yield* bull(queue)
      assert.strictEqual(yield* Effect.promise(() => q.count()), 0)
      const option = failureOf(yield* Effect.exit(producer.enqueue(Inc, 1, { priority: "urgent" as never })))
      assert.strictEqual(option._tag, "InvalidConfig")
      assert.strictEqual((option as { field: string }).field, "priority")
      const retry = failureOf(yield* Effect.exit(producer.enqueue(Inc, 1, { retry: { backoffCoefficient: 0.5 } })))
      assert.strictEqual((retry as { field: string }).field, "retry.backoffCoefficient")
      assert.strictEqual((retry as { value: string }).value, "0.5")
      const interval = failureOf(
        yield* Effect.exit(producer.enqueue(Inc, 1, { retry: { initialInterval: "-5 seconds" } }))
      )
      assert.strictEqual((interval as { field: string }).field, "retry.initialInterval")
      assert.strictEqual((interval as { value: string }).value, "\"-5 seconds\"")
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("binary data: Schema.Uint8Array travels intact; the JSON-skipping WorkerTask schemas are refused, named", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const bytes = new Uint8Array([0, 1, 127, 128, 255])
      const reversed = yield* (yield* producer.enqueue(Bytes, { label: "b", data: bytes })).await
      assert.instanceOf(reversed, Uint8Array)
      assert.deepStrictEqual([...reversed], [255, 128, 127, 1, 0])

      // Refused before anything is sent, naming the field.
      const payload = { label: "c", items: [{ data: new Uint8Array(2) }, { data: new Uint8Array([9]) }] }
      const refused = failureOf(yield* Effect.exit(producer.enqueue(ClonedPayload, payload)))
      assert.strictEqual(refused._tag, "PayloadInvalid")
      assert.include((refused as { detail: string }).detail, "items.0.data (Uint8Array)")
      assert.include((refused as { detail: string }).detail, "Schema.Uint8Array")
      const all = failureOf(yield* Effect.exit(producer.enqueueAll(ClonedPayload, [payload])))
      assert.include((all as { detail: string }).detail, "payloads[0]: binary data at items.0.data")
      const q = yield* bull(queue)
      const counts = yield* Effect.promise(() => q.getJobCounts("prioritized", "wait", "active", "completed", "failed"))
      assert.strictEqual(Object.values(counts).reduce((a, b) => a + b, 0), 1, "only the Bytes job was ever added")

      // A result that Redis could not keep fails the job, naming the field, instead of arriving corrupted.
      const exit = yield* Effect.exit((yield* producer.enqueue(ClonedResult, 7)).await)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), String(exit))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.include(String((defect as Error)?.message), "the value itself (Uint8Array)")
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("a task the consumer does not serve fails with UnknownTask, once, without retries", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handle = yield* producer.enqueue(Unserved, 1, { retry: { maximumAttempts: 5, initialInterval: 10 } })
      const error = failureOf(yield* Effect.exit(handle.await))
      assert.strictEqual(error._tag, "UnknownTask")
      assert.strictEqual((error as { taskName: string }).taskName, "unserved")
      assert.include((error as { known: ReadonlyArray<string> }).known, "inc")
      const q = yield* bull(queue)
      const job = yield* Effect.promise(() => q.getJob(handle.id))
      assert.strictEqual(job?.attemptsMade, 1)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))), Effect.scoped)
  })

  it.live("job data that does not decode fails typed (JobDataInvalid, PayloadInvalid), the consumer keeps going", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const garbage = yield* Effect.promise(() => q.add("inc", { v: 7, code: "process.exit(1)" }, { priority: 3 }))
      const badPayload = yield* Effect.promise(() =>
        q.add("inc", { v: 1, task: "inc", payload: "not a number", priority: "normal", enqueuedAt: Date.now() }, {
          priority: 3
        })
      )
      const e1 = failureOf(yield* Effect.exit(producer.handle(Inc, garbage.id!).await))
      assert.strictEqual(e1._tag, "JobDataInvalid")
      const e2 = failureOf(yield* Effect.exit(producer.handle(Inc, badPayload.id!).await))
      assert.strictEqual(e2._tag, "PayloadInvalid")
      const after = yield* producer.enqueue(Inc, 1)
      assert.strictEqual(yield* after.await, 2)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))), Effect.scoped)
  })

  it.live("retry delays follow the policy (exponential, capped); non-retryable tags stop at once", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const policy = {
        maximumAttempts: 5,
        initialInterval: 200,
        backoffCoefficient: 2,
        maximumInterval: 500,
        jitter: 0
      }
      const handle = yield* producer.enqueue(Flaky, { key: `${queue}-t`, failures: 3, fatal: false }, { retry: policy })
      const times = yield* handle.await
      assert.strictEqual(times.length, 4)
      const gaps = times.slice(1).map((t, i) => t - times[i]!)
      // 200, 400, then 800 capped at 500 (the exact delays are checked in JobWire.test.ts): never early, and
      // late only by scheduling noise on a loaded machine.
      for (const [i, expected] of [200, 400, 500].entries()) {
        assert.isAtLeast(gaps[i]!, expected - 5, `gap ${i}: ${gaps}`)
        assert.isBelow(gaps[i]!, expected + 1_000, `gap ${i}: ${gaps}`)
      }

      const fatal = yield* producer.enqueue(Flaky, { key: `${queue}-f`, failures: 3, fatal: true }, {
        retry: { ...policy, nonRetryable: ["Fatal"] }
      })
      const error = failureOf(yield* Effect.exit(fatal.await))
      assert.strictEqual(error._tag, "Fatal")
      assert.strictEqual((error as { attempt: number }).attempt, 1)

      const exhausted = yield* producer.enqueue(Flaky, { key: `${queue}-e`, failures: 9, fatal: false }, {
        retry: { maximumAttempts: 2, initialInterval: 10, jitter: 0 }
      })
      const last = failureOf(yield* Effect.exit(exhausted.await))
      assert.strictEqual(last._tag, "Transient")
      assert.strictEqual((last as { attempt: number }).attempt, 2)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("timeout: an attempt past it fails with TaskTimeout", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handle = yield* producer.enqueue(Slow, { id: 1, ms: 5_000 }, { timeout: "200 millis" })
      const error = failureOf(yield* Effect.exit(handle.await))
      assert.strictEqual(error._tag, "TaskTimeout")
      assert.strictEqual((error as { timeoutMillis: number }).timeoutMillis, 200)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("in-process handlers: their tasks run on the consumer's runtime, typed errors and timeouts as on workers", () => {
    const queue = freshQueue()
    // Distinct from the worker's handlers (n + 1, a code of 402), so the result says which one ran.
    // Under the default tracer too, an in-process handler runs inside its job's span (its code can read it).
    const inJobSpan = (span: Tracer.AnySpan | undefined): boolean =>
      span !== undefined && span._tag === "Span" &&
      (span.name === "Consumer.job inc" || inJobSpan(Option.getOrUndefined(span.parent)))
    const local = {
      inc: (n: number) =>
        Effect.map(
          Effect.exit(Effect.currentSpan),
          (span) => Exit.isSuccess(span) && inJobSpan(span.value) ? n + 100 : -1
        ),
      charge: ({ account }: { account: string }) =>
        Effect.fail(new Declined({ code: 409, account, at: new Date(Date.UTC(2026, 0, 1)) })),
      slow: ({ ms }: { id: number; ms: number }) => Effect.as(Effect.sleep(ms), -1)
    }
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const inc = yield* producer.enqueue(Inc, 1)
      const stamp = yield* producer.enqueue(Stamp, { label: "worker" })
      const charge = yield* producer.enqueue(Charge, { account: "acme", cents: 5 })
      const slow = yield* producer.enqueue(Slow, { id: 1, ms: 5_000 }, { timeout: "200 millis" })
      assert.strictEqual(yield* inc.await, 101)
      assert.strictEqual((yield* stamp.await).label, "worker", "a task without one still runs on the workers")
      const declined = failureOf(yield* Effect.exit(charge.await))
      assert.instanceOf(declined, Declined)
      assert.strictEqual((declined as Declined).code, 409)
      assert.strictEqual(failureOf(yield* Effect.exit(slow.await))._tag, "TaskTimeout")
      const consumer = yield* Consumer.Consumer
      const stats = yield* consumer.stats
      assert.strictEqual(stats.completed, 2)
      assert.strictEqual(stats.failed, 2)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue, { handlers: local }))))
  })

  it.live("in-process handlers for a task the consumer does not serve: InvalidConfig naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(consumerLayer(freshQueue(), { handlers: { nope: () => Effect.void } as never })))
      )
      const error = failureOf(exit) as InvalidConfig
      assert.strictEqual(error._tag, "InvalidConfig")
      assert.strictEqual(error.field, "handlers.nope")
      assert.include(error.detail, "inc")
    }))

  it.live("cancel: a waiting job is removed, a running one is interrupted on its consumer", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const running = yield* producer.enqueue(Slow, { id: 1, ms: 30_000 })
      const waiting = yield* producer.enqueue(Slow, { id: 2, ms: 30_000 })
      while ((yield* running.status) !== "active") yield* Effect.sleep("20 millis")
      assert.strictEqual(yield* waiting.status, "waiting")
      yield* waiting.cancel
      const removed = failureOf(yield* Effect.exit(waiting.await))
      assert.strictEqual(removed._tag, "TaskCancelled")
      assert.strictEqual(yield* waiting.status, "unknown")
      const started = Date.now()
      yield* running.cancel
      const interrupted = failureOf(yield* Effect.exit(running.await))
      assert.strictEqual(interrupted._tag, "TaskCancelled")
      assert.isBelow(Date.now() - started, 10_000)
      assert.strictEqual(yield* running.status, "failed")
      // The consumer is free again.
      const next = yield* producer.enqueue(Inc, 1)
      assert.strictEqual(yield* next.await, 2)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue, {}, 1))))
  })

  it.live("idempotency key: a second enqueue with the same key returns the first job's handle", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const first = yield* producer.enqueue(Stamp, { label: "first" }, { idempotencyKey: "order:42" })
      const second = yield* producer.enqueue(Stamp, { label: "second" }, { idempotencyKey: "order:42" })
      assert.strictEqual(second.id, first.id)
      const a = yield* first.await
      const b = yield* second.await
      assert.deepStrictEqual(a, b)
      assert.strictEqual(a.label, "first")
      const q = yield* bull(queue)
      assert.strictEqual(yield* Effect.promise(() => q.getCompletedCount()), 1)
      const bad = failureOf(yield* Effect.exit(producer.enqueue(Inc, 1, { idempotencyKey: "" })))
      assert.strictEqual((bad as { field: string }).field, "idempotencyKey")
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))), Effect.scoped)
  })

  it.live("priorities: one consumer at concurrency 1 runs critical, high, normal, low, FIFO within a level", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const levels = ["low", "normal", "high", "critical"] as const
      const jobs: Array<{ label: string; handle: Producer.JobHandle<typeof Stamp> }> = []
      for (let i = 0; i < 40; i++) {
        const priority = levels[(i * 7) % 4]!
        const label = `${priority}-${String(i).padStart(2, "0")}`
        jobs.push({ label, handle: yield* producer.enqueue(Stamp, { label }, { priority }) })
      }
      const depth = yield* producer.depth
      assert.strictEqual(
        depth.byPriority.low + depth.byPriority.normal + depth.byPriority.high + depth.byPriority.critical,
        40
      )
      assert.strictEqual(depth.byPriority.critical, 10)
      // Only now does a consumer start.
      const results = yield* Effect.forEach(jobs, (j) => j.handle.await, { concurrency: "unbounded" }).pipe(
        Effect.provide(consumerLayer(queue, {}, 1))
      )
      const ran = [...results].sort((a, b) => a.order - b.order).map((r) => r.label)
      const expected = [...jobs.map((j) => j.label)].sort((a, b) => {
        const rank = (l: string) => ["critical", "high", "normal", "low"].indexOf(l.split("-")[0]!)
        return rank(a) - rank(b) || a.localeCompare(b)
      })
      assert.deepStrictEqual(ran, expected)
    }).pipe(Effect.provide(producerLayer(queue)))
  })

  it.live("enqueueAll in several pipelines (1,050 jobs, 3 chunks): every job once, in order, each handle its own", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const labels = Array.from({ length: 1_050 }, (_, i) => String(i).padStart(4, "0"))
      const handles = yield* producer.enqueueAll(Stamp, labels.map((label) => ({ label })), { priority: "low" })
      assert.strictEqual(new Set(handles.map((h) => h.id)).size, labels.length)
      const q = yield* bull(queue)
      assert.strictEqual(yield* Effect.promise(() => q.getPrioritizedCount()), labels.length)
      // Only now does a consumer start: at concurrency 1 it runs them in the order they were sent.
      const results = yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" }).pipe(
        Effect.provide(consumerLayer(queue, {}, 1))
      )
      assert.deepStrictEqual(results.map((r) => r.label), labels)
      const ran = [...results].sort((a, b) => a.order - b.order).map((r) => r.label)
      assert.deepStrictEqual(ran, labels)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("enqueueAll interrupted midway: the chunks sent stay queued, none is sent after", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const total = 10_000
      const fiber = yield* Effect.forkChild(producer.enqueueAll(Inc, Array.from({ length: total }, (_, i) => i)))
      const count = () => Effect.promise(() => q.getPrioritizedCount())
      while ((yield* count()) === 0) yield* Effect.sleep("1 millis")
      yield* Fiber.interrupt(fiber)
      // The chunk in flight at the interruption may still land: wait for it, then nothing more may come.
      yield* Effect.sleep("300 millis")
      const after = yield* count()
      yield* Effect.sleep("300 millis")
      assert.strictEqual(yield* count(), after)
      assert.isBelow(after, total)
      assert.strictEqual(after % 500, 0)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("tracing: the consumer's span of a job is a child of the producer's span", () => {
    const queue = freshQueue()
    const spans: Array<{
      name: string
      traceId: string
      spanId: string
      parent: string | undefined
      span: Tracer.NativeSpan
    }> = []
    const tracer = Tracer.make({
      span: (options) => {
        const span = new Tracer.NativeSpan(options)
        spans.push({
          name: options.name,
          traceId: span.traceId,
          spanId: span.spanId,
          parent: Option.getOrUndefined(Option.map(options.parent, (p) => p.spanId)),
          span
        })
        return span
      }
    })
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handle = yield* producer.enqueue(Inc, 1).pipe(Effect.withSpan("request"))
      const enqueue = spans.find((s) => s.name === "Producer.enqueue inc")!
      // Ended with the enqueue, before the job's outcome; a producer span with the job's attributes.
      assert.strictEqual(enqueue.span.status._tag, "Ended")
      assert.strictEqual(enqueue.span.kind, "producer")
      assert.strictEqual(enqueue.span.attributes.get("queue"), queue)
      assert.strictEqual(enqueue.span.attributes.get("priority"), "normal")
      assert.strictEqual(yield* handle.await, 2)
      const request = spans.find((s) => s.name === "request")!
      const job = spans.find((s) => s.name === "Consumer.job inc")!
      assert.isDefined(job, spans.map((s) => s.name).join(", "))
      assert.strictEqual(enqueue.parent, request.spanId)
      assert.strictEqual(job.parent, enqueue.spanId)
      assert.strictEqual(job.traceId, request.traceId)

      // A refused enqueue ends its span with the failure.
      yield* Effect.exit(producer.enqueue(Charge, { account: "acme", cents: -1 } as never))
      const refused = spans.find((s) => s.name === "Producer.enqueue charge")!
      assert.strictEqual(refused.span.status._tag, "Ended")
      const status = refused.span.status as { readonly exit: Exit.Exit<unknown, unknown> }
      assert.isTrue(Exit.isFailure(status.exit), String(status.exit))
    }).pipe(
      Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))),
      Effect.provideService(Tracer.Tracer, tracer)
    )
  })

  it.live("metrics: depth per priority from the producer; completed, failed, retried on the consumer", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      yield* producer.enqueueAll(Inc, [1, 2, 3], { priority: "high" })
      yield* Effect.sleep("300 millis")
      const depth = yield* Metric.value(Metric.withAttributes(Producer.metrics.depth, { queue, priority: "high" }))
      assert.strictEqual(depth.value, 3)
      const results = yield* Effect.gen(function*() {
        const handles = yield* producer.enqueueAll(Inc, [1, 2])
        const failing = yield* producer.enqueue(Flaky, { key: `${queue}-m`, failures: 9, fatal: false }, {
          retry: { maximumAttempts: 2, initialInterval: 10 }
        })
        yield* Effect.exit(failing.await)
        const results = yield* Effect.forEach(handles, (h) => h.await)
        const value = (m: Metric.Metric<number, { readonly count: number }>) =>
          Effect.map(Metric.value(Metric.withAttributes(m, { queue })), (s) => Number(s.count))
        assert.strictEqual(yield* value(Consumer.metrics.completed as never), 5)
        assert.strictEqual(yield* value(Consumer.metrics.failed as never), 1)
        assert.strictEqual(yield* value(Consumer.metrics.retried as never), 1)
        const active = yield* Metric.value(Metric.withAttributes(Consumer.metrics.active, { queue }))
        assert.strictEqual(active.value, 0)
        return results
      }).pipe(Effect.provide(consumerLayer(queue)))
      assert.deepStrictEqual(results, [2, 3])
    }).pipe(
      Effect.provide(producerLayer(queue, { metricsInterval: 100 })),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.live("delay: the job waits in `delayed`, then runs", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const enqueued = Date.now()
      const handle = yield* producer.enqueue(Flaky, { key: `${queue}-d`, failures: 0, fatal: false }, {
        delay: "400 millis"
      })
      assert.strictEqual(yield* handle.status, "delayed")
      const [ranAt] = yield* handle.await
      assert.isAtLeast(ranAt! - enqueued, 390)
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
  })

  it.live("retention: finished jobs are trimmed, so Redis does not grow without bound", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handles = yield* producer.enqueueAll(Inc, Array.from({ length: 30 }, (_, i) => i))
      yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded", discard: true })
      const failing = yield* producer.enqueueAll(Unserved, [1, 2, 3, 4])
      yield* Effect.forEach(failing, (h) => Effect.exit(h.await), { concurrency: "unbounded", discard: true })
      const q = yield* bull(queue)
      assert.isAtMost(yield* Effect.promise(() => q.getCompletedCount()), 10)
      assert.isAtMost(yield* Effect.promise(() => q.getFailedCount()), 2)
    }).pipe(
      Effect.provide(Layer.merge(
        producerLayer(queue, {
          keepCompleted: { count: 10, ageSeconds: 3_600 },
          keepFailed: { count: 2, ageSeconds: 60 }
        }),
        consumerLayer(queue)
      )),
      Effect.scoped
    )
  })

  it.live("global rate limit (BullMQ's limiter): at most max jobs per duration across consumers", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const handles = yield* producer.enqueueAll(
        Flaky,
        Array.from({ length: 9 }, (_, i) => ({
          key: `${queue}-r${i}`,
          failures: 0,
          fatal: false
        }))
      )
      const starts = (yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" })).map((t) => t[0]!)
      starts.sort((a, b) => a - b)
      // 3 per 300 ms: the 4th and 7th jobs wait for the next windows.
      assert.isAtLeast(starts[3]! - starts[0]!, 250, String(starts))
      assert.isAtLeast(starts[6]! - starts[0]!, 550, String(starts))
    }).pipe(Effect.provide(Layer.merge(
      producerLayer(queue),
      consumerLayer(queue, { limiter: { max: 3, duration: 300 } })
    )))
  })

  it.live("fairness key: the consumer's scheduler lets another key's job pass one key's backlog", () => {
    const queue = freshQueue()
    // Two permits. FIFO alone would run a1 and a2, then a3 and b; with one job per key at a time, b runs beside a1.
    const consumer = Consumer.layer({ queue, tasks: Tasks, redis: { port: redis.port }, concurrency: 4 }).pipe(
      Layer.provide(Orchestrator.layerTest(served, { scheduler: { permits: 2, perKeyLimit: 1 } }))
    )
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const tenantA = yield* producer.enqueueAll(Slow, [1, 2, 3].map((id) => ({ id, ms: 300 })), { key: "tenant-a" })
      const tenantB = yield* producer.enqueue(Slow, { id: 4, ms: 300 }, { key: "tenant-b" })
      const finished: Array<number> = []
      const started = Date.now()
      yield* Effect.forEach(
        [...tenantA, tenantB],
        (h) => Effect.tap(h.await, (id) => Effect.sync(() => finished.push(id))),
        { concurrency: "unbounded", discard: true }
      )
      assert.isBelow(finished.indexOf(4), finished.indexOf(2), `finished in order ${finished}`)
      // tenant-a's three jobs ran one after another.
      assert.isAtLeast(Date.now() - started, 850)
      assert.deepStrictEqual(finished.filter((id) => id !== 4), [1, 2, 3])
    }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumer)))
  })

  it.live("closing the producer: awaits still waiting fail with PoolShutDown, the job stays in Redis", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const producer = yield* Layer.buildWithScope(producerLayer(queue), scope).pipe(
        Effect.map((ctx) => Context.get(ctx, Producer.Producer))
      )
      const handle = yield* producer.enqueue(Inc, 1)
      const waiting = yield* Effect.forkChild(Effect.exit(handle.await))
      yield* Effect.sleep("50 millis")
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.join(waiting)
      assert.strictEqual(failureOf(exit)._tag, "PoolShutDown")
      assert.strictEqual(failureOf(yield* Effect.exit(producer.enqueue(Inc, 2)))._tag, "PoolShutDown")
      // Another producer picks the job up by id once a consumer has run it.
      const result = yield* Producer.Producer.use((p) => p.handle(Inc, handle.id).await).pipe(
        Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue)))
      )
      assert.strictEqual(result, 2)
    })
  })

  it.live("a handle from another process (by id) reads the outcome from Redis; a job that is gone is JobLost", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const id = yield* Effect.gen(function*() {
        const producer = yield* Producer.Producer
        const handle = yield* producer.enqueue(Inc, 9)
        assert.strictEqual(yield* handle.await, 10)
        return handle.id
      }).pipe(Effect.provide(Layer.merge(producerLayer(queue), consumerLayer(queue))))
      // A fresh producer, after the fact.
      yield* Effect.gen(function*() {
        const producer = yield* Producer.Producer
        assert.strictEqual(yield* producer.handle(Inc, id).await, 10)
        const gone = failureOf(yield* Effect.exit(producer.handle(Inc, "no-such-job").await))
        assert.strictEqual(gone._tag, "JobLost")
        assert.strictEqual(yield* producer.handle(Inc, "no-such-job").status, "unknown")
      }).pipe(Effect.provide(producerLayer(queue)))
    })
  })

  it.live("Redis lost mid-run: enqueue fails typed with whenDisconnected \"fail\", waits for Redis by default", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const failing = yield* Layer.build(producerLayer(queue, { whenDisconnected: "fail" }))
      const waiting = yield* Layer.build(producerLayer(queue))
      const down = yield* Deferred.make<void>()
      const restart = yield* Effect.forkChild(
        Effect.promise(() => redis.restart(2_000, () => Deferred.doneUnsafe(down, Exit.void)))
      )
      yield* Deferred.await(down)
      yield* Effect.sleep("200 millis") // the clients see the closed connection at once; leave them a moment
      const failFast = Producer.Producer.use((p) => p.enqueue(Inc, 1)).pipe(Effect.provide(failing))
      const error = failureOf(yield* Effect.exit(Effect.timeout(failFast, "1 second")))
      assert.strictEqual((error as { _tag: string })._tag, "RedisUnavailable")
      assert.strictEqual((error as { port: number }).port, redis.port)
      const handle = yield* Producer.Producer.use((p) => p.enqueue(Inc, 5)).pipe(Effect.provide(waiting))
      yield* Fiber.join(restart)
      const result = yield* handle.await.pipe(Effect.provide(consumerLayer(queue)))
      assert.strictEqual(result, 6)
    }).pipe(Effect.scoped)
  })

  it.live("a queue name BullMQ cannot key (empty, or with ':') is InvalidConfig naming it, for both layers", () =>
    Effect.gen(function*() {
      for (const queue of ["", "a:b"]) {
        const builds = [Layer.build(producerLayer(queue)), Layer.build(consumerLayer(queue))] as const
        for (const build of builds) {
          const error = failureOf(
            yield* Effect.exit(Effect.scoped(build as Effect.Effect<unknown, { readonly _tag: string }, Scope.Scope>))
          )
          assert.strictEqual(error._tag, "InvalidConfig")
          assert.strictEqual((error as InvalidConfig).field, "queue")
          assert.strictEqual((error as InvalidConfig).value, JSON.stringify(queue))
        }
      }
    }))

  it.live("Redis unreachable when a layer is built: RedisUnavailable naming host and port, within the timeout", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const started = Date.now()
      const exit = yield* Effect.exit(
        Effect.scoped(
          Layer.build(Producer.layer({ queue: "nowhere", redis: { port, connectTimeout: 1_000 } }))
        )
      )
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "RedisUnavailable")
      assert.strictEqual((error as { port: number }).port, port)
      assert.strictEqual((error as { host: string }).host, "127.0.0.1")
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.isBelow(Date.now() - started, 3_000)
      const consumer = yield* Effect.exit(
        Effect.scoped(Layer.build(consumerLayer("nowhere", { redis: { port, connectTimeout: 500 } })))
      )
      assert.strictEqual(failureOf(consumer)._tag, "RedisUnavailable")
    }))
})
