// Scale-out: a producer (this process) and two consumer processes share one BullMQ queue on Redis. The
// producer enqueues typed `countPrimes` jobs and awaits every result; midway, one consumer is killed with
// `kill -9` while it runs jobs. Its jobs go back to the queue (lock 3 s, stalled check every 2 s) and the other
// consumer runs them: nothing is lost, and the total is checked by a sieve.
//
// Redis: REDIS_HOST/REDIS_PORT when set; otherwise a local redis-server is started on a free port (and stopped).
import { Effect } from "effect"
import { Producer } from "effect-orchestrator"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { startRedis } from "../scripts/redis-server.ts"
import type { Example } from "./example.ts"
import { bold, count, dim, line, ms } from "./terminal.ts"
import { sieveCount } from "./workers/math.ts"
import { CountPrimes } from "./workers/tasks.ts"

interface Running {
  readonly name: string
  readonly child: ChildProcess
  completed: number
  active: number
}

const consumerScript = fileURLToPath(new URL("./workers/consumer.ts", import.meta.url))

const startConsumer = (name: string, host: string, port: number, queue: string) =>
  Effect.acquireRelease(
    Effect.callback<Running, Error>((resume) => {
      // The same Node options as this program (the source condition that resolves the package to src, if set).
      const child = spawn(process.execPath, [...process.execArgv, consumerScript], {
        env: { ...process.env, REDIS_HOST: host, REDIS_PORT: String(port), QUEUE: queue },
        stdio: ["ignore", "pipe", "inherit"]
      })
      const running: Running = { name, child, completed: 0, active: 0 }
      let ready = false
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        for (const text of chunk.split("\n")) {
          const match = /completed (\d+) active (\d+)/.exec(text)
          if (match !== null) {
            running.completed = Number(match[1])
            running.active = Number(match[2])
          }
          if (text === "ready" && !ready) {
            ready = true
            resume(Effect.succeed(running))
          }
        }
      })
      child.once("exit", (code) => {
        if (!ready) resume(Effect.fail(new Error(`consumer ${name} exited with ${code} before it was ready`)))
      })
    }),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  )

const redisAddress = Effect.gen(function*() {
  const port = process.env["REDIS_PORT"]
  if (port !== undefined) return { host: process.env["REDIS_HOST"] ?? "127.0.0.1", port: Number(port) }
  const server = yield* Effect.acquireRelease(Effect.promise(() => startRedis()), (s) => Effect.promise(() => s.stop()))
  yield* line(dim(`started redis-server on 127.0.0.1:${server.port} (no persistence, temporary directory)`))
  return { host: server.host, port: server.port }
})

export const example: Example = {
  name: "distributed",
  summary: "a producer and two consumer processes on Redis; one consumer killed midway, nothing lost",
  program: ({ small }) =>
    Effect.scoped(Effect.gen(function*() {
      const jobs = small ? 120 : 600
      // Wide enough that the run lasts a few seconds, so the kill lands while consumer A holds jobs.
      const width = small ? 200_000 : 100_000
      const queue = `primes-${process.pid}`
      const { host, port } = yield* redisAddress
      const [a, b] = yield* Effect.all([
        startConsumer("A", host, port, queue),
        startConsumer("B", host, port, queue)
      ], { concurrency: 2 })
      yield* line(`consumers A (pid ${a!.child.pid}) and B (pid ${b!.child.pid}) serve queue "${queue}"`)

      const results = yield* Effect.gen(function*() {
        const producer = yield* Producer.Producer
        const ranges = Array.from({ length: jobs }, (_, i) => ({ from: i * width, to: (i + 1) * width }))
        const handles = yield* producer.enqueueAll(CountPrimes, ranges)
        yield* line(`enqueued ${count(jobs)} countPrimes jobs (ranges of ${count(width)} numbers)`)
        const started = Date.now()
        let done = 0
        let killedAt: number | undefined
        let last = ""
        const progress = Effect.gen(function*() {
          const depth = yield* producer.depth
          const status = `  ${count(done).padStart(5)}/${count(jobs)} done · waiting ${
            count(depth.byPriority.normal).padStart(4)
          } · active ${depth.active} · A ${killedAt === undefined ? `${a!.completed} done` : "killed"} · B ${
            b!.completed
          } done`
          if (status !== last) yield* line(status)
          last = status
          if (killedAt === undefined && done >= jobs * 0.3 && a!.active > 0) {
            const held = a!.active
            a!.child.kill("SIGKILL")
            killedAt = Date.now()
            yield* line(bold(`  kill -9 consumer A (pid ${a!.child.pid}) while it runs ${held} job(s)`))
            yield* line(dim("  its jobs stay active until their lock (3 s) expires; then B runs them again"))
          }
        }).pipe(Effect.delay("200 millis"), Effect.forever, Effect.forkScoped)
        yield* progress
        const values = yield* Effect.forEach(handles, (handle) =>
          Effect.tap(handle.await, () => Effect.sync(() => void done++)), { concurrency: "unbounded" })
        yield* line(
          `all ${count(jobs)} jobs done in ${ms(Date.now() - started)}` +
            (killedAt === undefined ? "" : `, ${ms(Date.now() - killedAt)} after the kill`)
        )
        return values
      }).pipe(Effect.scoped, Effect.provide(Producer.layer({ queue, redis: { host, port } })))

      const total = results.reduce((sum, n) =>
        sum + n, 0)
      const expected = sieveCount(jobs * width)
      yield* line(
        `total: ${count(total)} primes below ${count(jobs * width)} ` +
          (total === expected ? "(the sieve agrees)" : `(MISMATCH: the sieve says ${count(expected)})`)
      )
      yield* line(`none lost: ${count(results.length)} of ${count(jobs)} results, each job's handle resolved once`)
      if (total !== expected || results.length !== jobs) {
        return yield* Effect.die(new Error("lost or wrong results"))
      }
    }))
}
