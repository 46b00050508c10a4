/**
 * `npx node bench/distributed-scaling.ts`: how the distributed queue's capacity grows with consumer processes
 * (1, 2, 3; each with concurrency 16 and one worker thread) on one redis-server, for tiny jobs (`n => n + 1`)
 * and for jobs of 5 ms of CPU. Jobs/s from the resume of a paused, full queue until the producer has every
 * result. Not part of `npm run bench` (the machine's core count decides the answer); see docs/scale-out.md.
 */
import { Queue } from "bullmq"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as path from "node:path"
import { startRedis } from "../scripts/redis-server.ts"
import * as Producer from "../src/layers/Producer.ts"
import { Inc, Spin } from "./workers/distributed-tasks.ts"

const redis = await startRedis()
const consumerScript = path.join(import.meta.dirname, "workers", "distributed-consumer.ts")

const spawnConsumer = (queue: string): Promise<ChildProcess> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [consumerScript], {
      env: { ...process.env, REDIS_PORT: String(redis.port), QUEUE: queue, CONCURRENCY: "16" },
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.stdout!.on("data", (chunk) => String(chunk).includes("ready") && resolve(child))
  })

const run = (consumers: number, task: typeof Inc | typeof Spin, payload: number, jobs: number) =>
  Effect.gen(function*() {
    const queue = `scale-${consumers}-${task.name}`
    const q = new Queue(queue, {
      connection: new Redis({ port: redis.port, maxRetriesPerRequest: null }),
      prefix: "orchestrator"
    })
    const children = yield* Effect.promise(() =>
      Promise.all(Array.from({ length: consumers }, () => spawnConsumer(queue)))
    )
    const rate = yield* Effect.gen(function*() {
      const producer = yield* Producer.Producer
      yield* Effect.promise(() => q.pause())
      const handles = yield* producer.enqueueAll(task, Array.from({ length: jobs }, () => payload))
      const start = performance.now()
      yield* Effect.promise(() => q.resume())
      yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded", discard: true })
      return jobs / ((performance.now() - start) / 1000)
    }).pipe(
      Effect.provide(Producer.layer({ queue, redis: { port: redis.port }, metricsInterval: 0 })),
      Effect.scoped
    )
    for (const child of children) child.kill("SIGKILL")
    yield* Effect.promise(() => q.close())
    return rate
  })

try {
  for (
    const [label, task, payload, jobs] of [["tiny jobs", Inc, 1, 10_000], ["5 ms CPU jobs", Spin, 5, 600]] as const
  ) {
    for (const consumers of [1, 2, 3]) {
      const rate = await Effect.runPromise(run(consumers, task, payload, jobs))
      console.log(`${label}, ${consumers} consumer process(es) x 16: ${Math.round(rate)} jobs/s`)
    }
  }
} finally {
  await redis.stop()
}
process.exit(0)
