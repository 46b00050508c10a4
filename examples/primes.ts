// Counting primes in ranges, one task per range, through `runAll` with priorities; the per-task timings come
// from each TaskResult.
import { Effect, Exit } from "effect"
import { Orchestrator } from "effect-orchestrator"
import type { TaskPriority } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { workers } from "./example.ts"
import { bold, count, dim, line, ms, table, timed } from "./terminal.ts"
import { sieveCount } from "./workers/math.ts"
import { CountPrimes } from "./workers/tasks.ts"

/**
 * Trial division costs more for larger numbers, so the last ranges are the heaviest. Giving them the highest
 * priority starts them first (longest job first), so no heavy range is left to run alone at the end.
 */
const priorityOf = (index: number, ranges: number): TaskPriority.TaskPriority => {
  const levels = ["low", "normal", "high", "critical"] as const
  return levels[Math.floor((index * levels.length) / ranges)]!
}

export const example: Example = {
  name: "primes",
  summary: "count primes in ranges in parallel (runAll with priorities), with per-task timings",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const limit = small ? 400_000 : 5_000_000
      const ranges = 8
      const width = limit / ranges
      yield* line(`primes below ${count(limit)} in ${ranges} ranges; ${workers} run at once, the rest wait by priority`)

      // Each task notes when it starts, that is when its lane admits it: timings have millisecond resolution,
      // which cannot order tasks admitted within the same millisecond.
      const started: Array<number> = []
      const tasks = Array.from({ length: ranges }, (_, i) => {
        const task = orchestrator.workerTask(CountPrimes, { from: i * width, to: (i + 1) * width }, {
          name: `[${count(i * width)}, ${count((i + 1) * width)})`,
          priority: priorityOf(i, ranges)
        })
        return { ...task, effect: Effect.andThen(Effect.sync(() => started.push(i + 1)), task.effect) }
      })
      const [results, wallMillis] = yield* timed(orchestrator.runAll(tasks))

      const firstEnqueued = Math.min(...results.map((r) => r.enqueuedAt))
      yield* table(
        ["#", "range", "priority", "primes", "queued", "ran", "started at"],
        results.map((r, i) => [
          String(i + 1),
          r.name,
          r.priority,
          Exit.isSuccess(r.exit) ? count(r.exit.value) : "failed",
          ms(r.queueWaitMillis),
          ms(r.runMillis),
          `+${ms(r.startedAt - firstEnqueued)}`
        ])
      )
      yield* line(
        `  start order: ${started.join(" ")} ${
          dim(`(the first ${workers} take the free workers; the others go by priority)`)
        }`
      )

      const failed = results.filter((r) => Exit.isFailure(r.exit))
      if (failed.length > 0) return yield* Effect.fail(new Error(`${failed.length} ranges failed`))
      const total = results.reduce((sum, r) => sum + (Exit.isSuccess(r.exit) ? r.exit.value : 0), 0)
      const expected = sieveCount(limit)
      if (total !== expected) {
        return yield* Effect.fail(new Error(`counted ${total} primes, the sieve says ${expected}`))
      }
      yield* line(bold(`  total: ${count(total)} primes below ${count(limit)} in ${ms(wallMillis)} (the sieve agrees)`))
    })
}
