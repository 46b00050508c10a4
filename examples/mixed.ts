// cpu, io and blocking tasks together through one `runAll`: each kind runs in its own lane (worker pool, main
// runtime, blocking threads), and each result tells its kind, how long it waited and how long it ran.
import { Cause, Effect, Exit } from "effect"
import { Orchestrator, Task } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { blockingThreads, workers } from "./example.ts"
import { bold, dim, line, ms, table, timed } from "./terminal.ts"
import { CountPrimes, Fib } from "./workers/tasks.ts"

/** A synchronous call that holds its thread (a sync driver, a native call): it sleeps without yielding. */
function readSync(millis: number): string {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)
  return `read after ${millis} ms`
}

/** π by the Leibniz series. A self-contained function: it travels to a worker as source text. */
function leibnizPi(terms: number): number {
  let sum = 0
  for (let k = 0; k < terms; k++) sum += (k % 2 === 0 ? 4 : -4) / (2 * k + 1)
  return sum
}

const show = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? String(exit.value) : `failed: ${String(Cause.squash(exit.cause))}`

export const example: Example = {
  name: "mixed",
  summary: "cpu + io + blocking tasks together through runAll: kind, queue wait and run time of each",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const scale = small ? 1 : 4
      const fetchUser = Effect.sleep(`${30 * scale} millis`).pipe(Effect.as("200 OK { id: 42 }"))
      const queryOrders = Effect.sleep(`${50 * scale} millis`).pipe(Effect.as("17 rows"))
      const tasks = [
        orchestrator.workerTask(Fib, small ? 27 : 32, { name: "fib" }),
        orchestrator.workerTask(CountPrimes, { from: 0, to: 100_000 * scale }, { name: "count primes" }),
        orchestrator.functionTask(leibnizPi, [2_000_000 * scale], { name: "Leibniz π" }),
        Task.make(fetchUser, { name: "GET /user" }),
        Task.make(queryOrders, { name: "SELECT orders" }),
        ...Array.from(
          { length: blockingThreads + 1 },
          (_, i) => orchestrator.blockingTask(readSync, [40 * scale], { name: `sync read ${i + 1}` })
        )
      ]
      yield* line(`${tasks.length} tasks in one runAll: 3 cpu, 2 io, ${blockingThreads + 1} blocking`)
      const [results, wallMillis] = yield* timed(orchestrator.runAll(tasks))
      yield* table(
        ["task", "kind", "queued", "ran", "result"],
        results.map((r) => [r.name, r.kind, ms(r.queueWaitMillis), ms(r.runMillis), show(r.exit)])
      )
      const failed = results.filter((r) => r.exit._tag === "Failure")
      if (failed.length > 0) return yield* Effect.fail(new Error(`${failed.length} tasks failed`))
      const busy = results.reduce((sum, r) => sum + r.runMillis, 0)
      yield* line(dim(
        `  ${workers} workers and ${blockingThreads} blocking threads: the third cpu task and the third blocking read` +
          ` wait their turn, each in its own lane; the io tasks start at once`
      ))
      yield* line(bold(`  ${results.length} tasks done in ${ms(wallMillis)} (their run times add up to ${ms(busy)})`))
    })
}
