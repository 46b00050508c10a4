// One consumer process of the distributed benchmark (raw BullMQ, same settings where they exist): REDIS_PORT,
// QUEUE, CONCURRENCY. Prints "ready".
import { Worker } from "bullmq"
import { Redis } from "ioredis"

const connection = new Redis({ port: Number(process.env["REDIS_PORT"]), maxRetriesPerRequest: null })
const worker = new Worker(
  process.env["QUEUE"]!,
  async (job) =>
    job.name === "sleep" ? new Promise((resolve) => setTimeout(() => resolve(job.data), job.data)) : job.data + 1,
  {
    connection,
    prefix: "orchestrator",
    concurrency: Number(process.env["CONCURRENCY"] ?? 16),
    removeOnComplete: { count: 10_000, age: 3_600 },
    removeOnFail: { count: 10_000, age: 86_400 }
  }
)
worker.on("error", () => {})
worker.waitUntilReady().then(() => process.stdout.write("ready\n"))
const stop = () => worker.close().then(() => connection.quit()).then(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
