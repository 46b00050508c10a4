/**
 * `npm run bench -- distributed`: the distributed queue (Producer and Consumer) against raw BullMQ on the same
 * redis-server (started here on a free loopback port, no persistence), with the same tiny jobs (`n => n + 1`),
 * in one run:
 *
 * - **enqueue**: 20,000 jobs in one call (`enqueueAll` vs `Queue.addBulk`), jobs/s;
 * - **drain**: the same 20,000 jobs with the queue paused, then resumed, drained by 2 consumer processes ×
 *   concurrency 16, jobs/s from the resume until nothing waits or runs. Ours run each job through the local
 *   Orchestrator, in two set-ups: on its worker thread, which CPU work needs (the goal ratios); and with the task's
 *   handler given to the Consumer (`handlers`: the Orchestrator's io lane on the consumer's own runtime, as raw
 *   BullMQ's processor runs it inline; the `…InProcess` ratios);
 * - **latency**: one job's round trip, enqueue → result, sequentially, median of 200 (`handle.await` vs
 *   `job.waitUntilFinished`), same two set-ups;
 * - **recovery** (ours): a consumer killed with `kill -9` while it runs 16 jobs of 2 s; seconds from the kill
 *   until the last of those jobs has started again on the other consumer (BullMQ's defaults: 52–84 s measured,
 *   not rerun here because it would take minutes).
 *
 * Both sides keep the same retention of finished jobs (10,000 / 1 h). Enqueue and drain run 3 times,
 * interleaved, after one round of the same size that is not counted; medians reported. Raw BullMQ also runs
 * with every job prioritised (as every one of ours is): the extra ratios `enqueueVsBullMQPrioritized`,
 * `drainVsBullMQPrioritized` (in-process handlers) and `drainThreadsVsBullMQPrioritized` (worker threads)
 * compare with that, and `drainBullMQPrioritizedVsPlain` is what the priorities cost BullMQ itself. Writes
 * `bench/results/distributed.json` with the ratios `enqueueVsBullMQ`, `drainVsBullMQ` (ours / BullMQ, higher is
 * better), `latencyVsBullMQ` (ours / BullMQ, lower is better) and the figure `recoverySeconds`.
 */
import { Queue as BullQueue, QueueEvents } from "bullmq"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as path from "node:path"
import { startRedis } from "../scripts/redis-server.ts"
import * as Producer from "../src/layers/Producer.ts"
import { median, writeReport } from "./report.ts"
import { Inc, Sleep } from "./workers/distributed-tasks.ts"

const JOBS = 20_000
const REPEATS = 3
const LATENCY_SAMPLES = 200
const prefix = "orchestrator"

const redis = await startRedis()
const children: Array<ChildProcess> = []
const cleanup = async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  await redis.stop()
}

const spawnConsumer = (script: string, queue: string, inProcess = false): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "workers", script)], {
      env: {
        ...process.env,
        REDIS_PORT: String(redis.port),
        QUEUE: queue,
        CONCURRENCY: "16",
        IN_PROCESS: inProcess ? "1" : "0"
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    children.push(child)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      if (chunk.includes("ready")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)))
  })

const connection = () => new Redis({ port: redis.port, maxRetriesPerRequest: null }).on("error", () => {})
const rawQueue = new BullQueue("bench-raw", { connection: connection(), prefix })
const rawEvents = new QueueEvents("bench-raw", { connection: connection(), prefix })
rawQueue.on("error", () => {})
rawEvents.on("error", () => {})
// To pause, resume and count.
const oursQueue = new BullQueue("bench-ours", { connection: connection(), prefix }).on("error", () => {})
const threadsQueue = new BullQueue("bench-threads", { connection: connection(), prefix }).on("error", () => {})
const keep = { removeOnComplete: { count: 10_000, age: 3_600 }, removeOnFail: { count: 10_000, age: 86_400 } }

const inputs = Array.from({ length: JOBS }, (_, i) => i)
const rate = (millis: number) => JOBS / (millis / 1000)

const drained = async (queue: BullQueue): Promise<void> => {
  for (;;) {
    const counts = await queue.getJobCounts("wait", "prioritized", "active", "delayed")
    if (Object.values(counts).every((n) => n === 0)) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const producerOf = (queue: string) => Producer.make({ queue, redis: { port: redis.port }, metricsInterval: 0 })

const program = Effect.gen(function*() {
  const producer = yield* producerOf("bench-ours")
  const threadsProducer = yield* producerOf("bench-threads")
  yield* Effect.promise(() =>
    Promise.all([
      spawnConsumer("distributed-consumer.ts", "bench-ours", true),
      spawnConsumer("distributed-consumer.ts", "bench-ours", true),
      spawnConsumer("distributed-consumer.ts", "bench-threads"),
      spawnConsumer("distributed-consumer.ts", "bench-threads"),
      spawnConsumer("distributed-raw-consumer.ts", "bench-raw"),
      spawnConsumer("distributed-raw-consumer.ts", "bench-raw")
    ])
  )
  yield* Effect.promise(() => rawEvents.waitUntilReady())

  // Warm up every path.
  for (const p of [producer, threadsProducer]) {
    const warm = yield* p.enqueueAll(Inc, inputs.slice(0, 2_000))
    yield* Effect.forEach(warm, (h) => h.await, { concurrency: "unbounded", discard: true })
  }
  yield* Effect.promise(async () => {
    await rawQueue.addBulk(inputs.slice(0, 2_000).map((n) => ({ name: "inc", data: n, opts: keep })))
    await drained(rawQueue)
  })

  const enqueue = { ours: [] as Array<number>, raw: [] as Array<number>, rawPriority: [] as Array<number> }
  const drain = {
    ours: [] as Array<number>,
    threads: [] as Array<number>,
    raw: [] as Array<number>,
    rawPriority: [] as Array<number>
  }
  // Round 0 is a warm-up of the full size, not counted: after the 2,000 jobs above our enqueue and drain still
  // speed up from one 20,000-job round to the next (JIT tiers, heap sizing), raw BullMQ's much less.
  for (let run = 0; run <= REPEATS; run++) {
    // Ours, with in-process handlers, then on worker threads.
    for (
      const [p, queue, into] of [[producer, oursQueue, "ours"], [threadsProducer, threadsQueue, "threads"]] as const
    ) {
      yield* Effect.promise(() => queue.pause())
      let start = performance.now()
      const handles = yield* p.enqueueAll(Inc, inputs)
      if (into === "ours") enqueue.ours.push(rate(performance.now() - start))
      start = performance.now()
      yield* Effect.promise(async () => {
        await queue.resume()
        await drained(queue)
      })
      drain[into].push(rate(performance.now() - start))
      const last = yield* handles[handles.length - 1]!.await
      if (last !== JOBS) return yield* Effect.die(new Error(`wrong result ${last}`))
    }

    // Raw BullMQ, as its users run it (no priority), then with every job prioritised as ours are.
    for (const [priority, into] of [[undefined, "raw"], [3, "rawPriority"]] as const) {
      yield* Effect.promise(async () => {
        await rawQueue.pause()
        const opts = priority === undefined ? keep : { ...keep, priority }
        let t = performance.now()
        await rawQueue.addBulk(inputs.map((n) => ({ name: "inc", data: n, opts })))
        enqueue[into].push(rate(performance.now() - t))
        t = performance.now()
        await rawQueue.resume()
        await drained(rawQueue)
        drain[into].push(rate(performance.now() - t))
      })
    }
    console.log(
      `  ${run === 0 ? "warm-up" : `run ${run}`}: enqueue ours ${Math.round(enqueue.ours[run]!)} / raw ${
        Math.round(enqueue.raw[run]!)
      } jobs/s;` +
        ` drain ours ${Math.round(drain.ours[run]!)} (worker threads ${Math.round(drain.threads[run]!)})` +
        ` / raw ${Math.round(drain.raw[run]!)} jobs/s` +
        ` (raw with priorities: enqueue ${Math.round(enqueue.rawPriority[run]!)}, drain ${
          Math.round(drain.rawPriority[run]!)
        })`
    )
  }

  for (const series of [...Object.values(enqueue), ...Object.values(drain)]) series.shift()

  // Round trips, interleaved in blocks of 20, then one of each in turn, until each side has LATENCY_SAMPLES.
  const latency = { ours: [] as Array<number>, threads: [] as Array<number>, raw: [] as Array<number> }
  const roundTrip = (side: keyof typeof latency, i: number) =>
    side === "raw"
      ? Effect.promise(async () => {
        const t = performance.now()
        const job = await rawQueue.add("inc", i, keep)
        await job.waitUntilFinished(rawEvents)
        latency.raw.push(performance.now() - t)
      })
      : Effect.gen(function*() {
        const t = performance.now()
        const handle = yield* (side === "ours" ? producer : threadsProducer).enqueue(Inc, i)
        yield* handle.await
        latency[side].push(performance.now() - t)
      })
  const sides = ["ours", "threads", "raw"] as const
  for (let i = 0; i < (LATENCY_SAMPLES / 2) * sides.length; i++) yield* roundTrip(sides[Math.floor(i / 20) % 3]!, i)
  while (latency.raw.length < LATENCY_SAMPLES || latency.ours.length < LATENCY_SAMPLES) {
    for (const side of sides) if (latency[side].length < LATENCY_SAMPLES) yield* roundTrip(side, 0)
  }

  // Recovery: 32 jobs of 2 s on 2 consumers × 16 (long enough to be running still at the kill), kill -9 one of
  // them while it holds 16; seconds until each of those has started again on the other consumer.
  const sleeps = yield* producer.enqueueAll(Sleep, Array.from({ length: 32 }, () => 2_000))
  const victim = `:${children[0]!.pid!}`
  const held = yield* Effect.promise(async () => {
    for (;;) {
      const mine = (await oursQueue.getActive()).filter((job) => job.processedBy?.endsWith(victim))
      if (mine.length >= 16) return mine.map((job) => job.id!)
      // With nothing left to take it holds all it will: kill it then.
      const { prioritized, wait } = await oursQueue.getJobCounts("prioritized", "wait")
      if (mine.length > 0 && prioritized === 0 && wait === 0) return mine.map((job) => job.id!)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })
  const killedAt = performance.now()
  children[0]!.kill("SIGKILL")
  const recoverySeconds = yield* Effect.promise(async () => {
    const restarted = new Set<string>()
    while (restarted.size < held.length) {
      for (const id of held) {
        if (restarted.has(id)) continue
        const job = await oursQueue.getJob(id)
        if (job !== undefined && job.processedBy !== undefined && !job.processedBy.endsWith(victim)) restarted.add(id)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return (performance.now() - killedAt) / 1000
  })
  yield* Effect.forEach(sleeps, (h) => h.await, { concurrency: "unbounded", discard: true })

  const m = {
    enqueueOurs: median(enqueue.ours),
    enqueueRaw: median(enqueue.raw),
    drainOurs: median(drain.ours),
    drainThreads: median(drain.threads),
    drainRaw: median(drain.raw),
    enqueueRawPriority: median(enqueue.rawPriority),
    drainRawPriority: median(drain.rawPriority),
    latencyOurs: median(latency.ours),
    latencyThreads: median(latency.threads),
    latencyRaw: median(latency.raw)
  }
  writeReport("distributed", [
    { name: `enqueue ${JOBS} jobs, ours (enqueueAll)`, value: m.enqueueOurs, unit: "jobs/s" },
    { name: `enqueue ${JOBS} jobs, BullMQ (addBulk)`, value: m.enqueueRaw, unit: "jobs/s" },
    { name: `enqueue ${JOBS} jobs, BullMQ with priorities`, value: m.enqueueRawPriority, unit: "jobs/s" },
    { name: "drain, 2 processes x 16, ours (in-process handlers)", value: m.drainOurs, unit: "jobs/s" },
    { name: "drain, 2 processes x 16, ours (worker threads)", value: m.drainThreads, unit: "jobs/s" },
    { name: "drain, 2 processes x 16, BullMQ", value: m.drainRaw, unit: "jobs/s" },
    { name: "drain, 2 processes x 16, BullMQ with priorities", value: m.drainRawPriority, unit: "jobs/s" },
    { name: `round trip, median of ${LATENCY_SAMPLES}, ours (in-process handlers)`, value: m.latencyOurs, unit: "ms" },
    {
      name: `round trip, median of ${LATENCY_SAMPLES}, ours (worker threads)`,
      value: m.latencyThreads,
      unit: "ms"
    },
    { name: `round trip, median of ${LATENCY_SAMPLES}, BullMQ`, value: m.latencyRaw, unit: "ms" },
    {
      name: `kill -9 with ${held.length} jobs active: last one started again elsewhere after`,
      value: recoverySeconds,
      unit: "s"
    }
  ], {
    enqueueVsBullMQ: m.enqueueOurs / m.enqueueRaw,
    drainVsBullMQ: m.drainThreads / m.drainRaw,
    latencyVsBullMQ: m.latencyThreads / m.latencyRaw,
    // With in-process handlers: no thread round trip, but the io lane's admission instead.
    drainVsBullMQInProcess: m.drainOurs / m.drainRaw,
    latencyVsBullMQInProcess: m.latencyOurs / m.latencyRaw,
    recoverySeconds,
    // Against BullMQ with every job prioritised (as every one of ours is, so none jumps the levels).
    enqueueVsBullMQPrioritized: m.enqueueOurs / m.enqueueRawPriority,
    drainVsBullMQPrioritized: m.drainOurs / m.drainRawPriority,
    drainThreadsVsBullMQPrioritized: m.drainThreads / m.drainRawPriority,
    // What priorities cost BullMQ itself: the ceiling of `drainVsBullMQ` while every job of ours carries one.
    drainBullMQPrioritizedVsPlain: m.drainRawPriority / m.drainRaw
  })
}).pipe(Effect.scoped)

try {
  await Effect.runPromise(program)
  await Promise.all([rawQueue.close(), rawEvents.close(), oursQueue.close(), threadsQueue.close()])
} finally {
  await cleanup()
}
process.exit(0)
