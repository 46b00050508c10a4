// One consumer process of the distributed benchmark (ours): REDIS_PORT, QUEUE, CONCURRENCY, and IN_PROCESS=1 to
// run `inc` and `sleep` (no CPU work) on the consumer's own runtime instead of its worker thread. Prints "ready".
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import * as Consumer from "../../src/layers/Consumer.ts"
import * as Orchestrator from "../../src/layers/Orchestrator.ts"
import { handlers } from "./distributed-handlers.ts"
import { BenchTasks } from "./distributed-tasks.ts"

const concurrency = Number(process.env["CONCURRENCY"] ?? 16)
const ConsumerLive = Consumer.layer({
  queue: process.env["QUEUE"]!,
  tasks: BenchTasks,
  redis: { port: Number(process.env["REDIS_PORT"]) },
  concurrency,
  ...(process.env["IN_PROCESS"] === "1" ? { handlers: { inc: handlers.inc, sleep: handlers.sleep } } : {})
}).pipe(
  Layer.provide(Orchestrator.layer({
    entry: new URL("./distributed-worker.ts", import.meta.url),
    pool: { minWorkers: 1, maxWorkers: 1, concurrentTasksPerWorker: concurrency },
    scheduler: { permits: concurrency }
  }))
)

Effect.gen(function*() {
  yield* Effect.sync(() => process.stdout.write("ready\n"))
  return yield* Effect.never
}).pipe(Effect.provide(ConsumerLive), NodeRuntime.runMain)
