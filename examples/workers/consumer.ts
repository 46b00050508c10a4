// A consumer process of the `distributed` example: serves the queue QUEUE on the Redis at REDIS_HOST:REDIS_PORT
// with the examples' typed tasks, on one worker thread. Prints "ready" once it serves, then a line per second
// with what it has done; on SIGTERM it drains (finishes its active jobs) before it exits.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import * as Consumer from "../../src/layers/Consumer.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import { ExampleTasks } from "./tasks.ts"

const ConsumerLive = Consumer.layer({
  queue: process.env["QUEUE"] ?? "primes",
  tasks: ExampleTasks,
  redis: { host: process.env["REDIS_HOST"] ?? "127.0.0.1", port: Number(process.env["REDIS_PORT"] ?? 6379) },
  concurrency: 4
}).pipe(
  Layer.provide(Orchestrator.layer({
    entry: new URL("./worker.ts", import.meta.url),
    pool: { minWorkers: 1, maxWorkers: 1 }
  }))
)

Effect.gen(function*() {
  const consumer = yield* Consumer.Consumer
  yield* Effect.sync(() => process.stdout.write("ready\n"))
  yield* consumer.stats.pipe(
    Effect.flatMap((s) => Effect.sync(() => process.stdout.write(`completed ${s.completed} active ${s.active}\n`))),
    Effect.delay("250 millis"),
    Effect.forever
  )
}).pipe(Effect.provide(ConsumerLive), NodeRuntime.runMain)
