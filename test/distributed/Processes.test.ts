// The distributed queue with real consumer processes (each with its own worker thread) and a real
// redis-server: several consumers drain one queue; `kill -9` of one mid-run loses nothing; shutdown drains
// or hands jobs back; a Redis restart mid-run loses nothing.
import { assert, describe, it } from "@effect/vitest"
import { Queue as BullQueue, QueueEvents } from "bullmq"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { startRedis } from "../../scripts/redis-server.ts"
import type { RedisServer } from "../../scripts/redis-server.ts"
import * as Producer from "../../src/layers/Producer.ts"
import { Inc, Slow } from "./fixtures/tasks.ts"
import { killConsumer, spawnConsumer } from "./processes.ts"
import type { ConsumerProcess } from "./processes.ts"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

let queues = 0
const freshQueue = () => `p${++queues}-${process.pid}`

const consumer = (queue: string, env: Record<string, string | number> = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => spawnConsumer({ REDIS_PORT: redis.port, QUEUE: queue, ...env })),
    (c) => Effect.promise(() => killConsumer(c))
  )

const producerLayer = (queue: string) => Producer.layer({ queue, redis: { port: redis.port }, metricsInterval: 0 })

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

/** Counts the `completed` events of each job, as every producer sees them. */
const completions = (queue: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const events = new QueueEvents(queue, {
        connection: new Redis({ port: redis.port, maxRetriesPerRequest: null }).on("error", () => {}),
        prefix: "orchestrator"
      })
      const counts = new Map<string, number>()
      events.on("completed", ({ jobId }) => counts.set(jobId, (counts.get(jobId) ?? 0) + 1))
      events.on("error", () => {})
      await events.waitUntilReady()
      return { events, counts }
    }),
    ({ events }) => Effect.promise(() => events.close())
  )

const waitFor = (what: string, check: Effect.Effect<boolean>, timeoutMillis = 30_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("25 millis")
    }
  })

describe("consumer processes (real Redis, real processes)", () => {
  it.live("two consumer processes drain one queue, each taking part", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      yield* Effect.all([consumer(queue, { CONCURRENCY: 8 }), consumer(queue, { CONCURRENCY: 8 })], {
        concurrency: 2
      })
      const producer = yield* Producer.Producer
      const inputs = Array.from({ length: 2_000 }, (_, i) => i)
      const handles = yield* producer.enqueueAll(Inc, inputs)
      const results = yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" })
      assert.deepStrictEqual(results, inputs.map((i) => i + 1))
      const q = yield* bull(queue)
      const jobs = yield* Effect.promise(() => q.getCompleted(0, 1_999))
      const by = new Set(jobs.map((job) => job.processedBy))
      assert.strictEqual(by.size, 2, `processed by ${[...by].join(", ")}`)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("kill -9 of a consumer: the survivor's stalled check moves its jobs back and counts them (metric too)", () => {
    const queue = freshQueue()
    /** The last `stats` line a consumer printed. */
    const lastStats = (
      c: ConsumerProcess
    ): { stalled: number; stalledMetric: number; completed: number } | undefined => {
      const lines = c.output().split("\n").filter((line) => line.startsWith("stats "))
      return lines.length === 0 ? undefined : JSON.parse(lines[lines.length - 1]!.slice("stats ".length))
    }
    return Effect.gen(function*() {
      const [victim, survivor] = yield* Effect.all([
        consumer(queue, { CONCURRENCY: 4, STATS_MS: 100 }),
        consumer(queue, { CONCURRENCY: 4, STATS_MS: 100 })
      ], { concurrency: 2 })
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const handles = yield* producer.enqueueAll(Slow, Array.from({ length: 16 }, (_, id) => ({ id, ms: 1_500 })))
      const held = yield* Effect.promise(async () => {
        for (;;) {
          const mine = (await q.getActive()).filter((job) => job.processedBy?.endsWith(`:${victim!.pid}`))
          if (mine.length > 0) return mine.length
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      })
      yield* waitFor("a stats line", Effect.sync(() => lastStats(survivor!) !== undefined), 5_000)
      assert.strictEqual(lastStats(survivor!)!.stalled, 0, "nothing stalled before the kill")
      yield* Effect.promise(() => killConsumer(victim!, "SIGKILL"))
      yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded", discard: true })
      // The counter moves on the consumer whose check found them: the survivor, the only one left.
      yield* waitFor(
        "the survivor to count the stalled jobs",
        Effect.sync(() => (lastStats(survivor!)?.stalled ?? 0) >= held),
        10_000
      )
      const stats = lastStats(survivor!)!
      assert.strictEqual(stats.stalledMetric, stats.stalled, "the metric reads the same counter")
      assert.isAtMost(stats.stalled, 16)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("kill -9 of a consumer mid-run: every job completes, none lost, each completion seen once", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const { counts } = yield* completions(queue)
      const [victim] = yield* Effect.all([
        consumer(queue, { CONCURRENCY: 8 }),
        consumer(queue, { CONCURRENCY: 8 })
      ], { concurrency: 2 })
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const n = 240
      const handles = yield* producer.enqueueAll(Slow, Array.from({ length: n }, (_, id) => ({ id, ms: 100 })))
      // Kill it while it holds active jobs.
      yield* waitFor("a third of the jobs done", Effect.sync(() => counts.size >= n / 3))
      const activeOfVictim = yield* Effect.promise(async () =>
        (await q.getActive()).filter((job) => job.processedBy?.endsWith(`:${(victim as ConsumerProcess).pid}`)).length
      )
      const killedAt = Date.now()
      yield* Effect.promise(() => killConsumer(victim!, "SIGKILL"))
      const results = yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" })
      const recoveredIn = (Date.now() - killedAt) / 1_000
      assert.deepStrictEqual(results, Array.from({ length: n }, (_, id) => id))
      yield* waitFor("every completion event", Effect.sync(() => counts.size === n), 5_000)
      for (const [jobId, seen] of counts) assert.strictEqual(seen, 1, `job ${jobId} completed ${seen} times`)
      assert.strictEqual(yield* Effect.promise(() => q.getFailedCount()), 0)
      assert.isAbove(activeOfVictim, 0, "the victim held no active job when it was killed")
      console.log(
        `kill -9 with ${activeOfVictim} jobs active: all ${n} done ${recoveredIn.toFixed(1)} s after the kill`
      )
      // BullMQ's defaults take 52–84 s; ours about 7 s at worst (the benchmark reports the figure).
      assert.isBelow(recoveredIn, 30, `recovered in ${recoveredIn} s`)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("shutdown (SIGTERM): stops fetching, finishes its active jobs, leaves the rest waiting", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const c = yield* consumer(queue, { CONCURRENCY: 3 })
      const handles = yield* producer.enqueueAll(Slow, Array.from({ length: 6 }, (_, id) => ({ id, ms: 1_500 })))
      yield* waitFor("3 active", Effect.promise(() => q.getActiveCount().then((a) => a === 3)))
      c.child.kill("SIGTERM")
      yield* Effect.promise(() => c.exited)
      const states = yield* Effect.forEach(handles, (h) => h.status)
      assert.deepStrictEqual(states.filter((s) => s === "completed").length, 3, states.join(","))
      assert.deepStrictEqual(states.filter((s) => s === "waiting").length, 3, states.join(","))
      // Nothing was lost: another consumer finishes the rest.
      yield* consumer(queue, { CONCURRENCY: 3 })
      const results = yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" })
      assert.deepStrictEqual(results, [0, 1, 2, 3, 4, 5])
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("shutdown past its deadline: the jobs still running are handed back to the queue, not lost or failed", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const c = yield* consumer(queue, { CONCURRENCY: 2, SHUTDOWN_MS: 300 })
      const handles = yield* producer.enqueueAll(Slow, [{ id: 1, ms: 20_000 }, { id: 2, ms: 20_000 }])
      yield* waitFor("2 active", Effect.promise(() => q.getActiveCount().then((a) => a === 2)))
      const stoppedAt = Date.now()
      c.child.kill("SIGTERM")
      yield* Effect.promise(() => c.exited)
      assert.isBelow(Date.now() - stoppedAt, 8_000)
      const states = yield* Effect.forEach(handles, (h) => h.status)
      assert.deepStrictEqual(states, ["waiting", "waiting"])
      const jobs = yield* Effect.promise(() => Promise.all(handles.map((h) => q.getJob(h.id))))
      assert.deepStrictEqual(jobs.map((j) => j?.attemptsMade), [0, 0])
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  })

  it.live("Redis restarted mid-run: consumers and producer reconnect, every job completes", () => {
    const queue = freshQueue()
    return Effect.gen(function*() {
      yield* Effect.all([consumer(queue, { CONCURRENCY: 4 }), consumer(queue, { CONCURRENCY: 4 })], {
        concurrency: 2
      })
      const producer = yield* Producer.Producer
      const q = yield* bull(queue)
      const n = 300
      const handles = yield* producer.enqueueAll(Slow, Array.from({ length: n }, (_, id) => ({ id, ms: 40 })))
      yield* waitFor(
        "some jobs done",
        Effect.promise(() => q.getCompletedCount().then((c) => c >= 40))
      )
      yield* Effect.promise(() => redis.restart(1_000))
      // Enqueued while consumers reconnect: waits for Redis (whenDisconnected: "wait").
      const more = yield* producer.enqueueAll(Slow, Array.from({ length: 20 }, (_, i) => ({ id: n + i, ms: 10 })))
      const results = yield* Effect.forEach([...handles, ...more], (h) => h.await, { concurrency: "unbounded" })
      assert.deepStrictEqual(results, Array.from({ length: n + 20 }, (_, id) => id))
      assert.strictEqual(yield* Effect.promise(() => q.getFailedCount()), 0)
    }).pipe(Effect.provide(producerLayer(queue)), Effect.scoped)
  }, 120_000)
})
