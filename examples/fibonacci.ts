// fib(n) several times: one after another on the main thread, then in parallel on the worker pool.
import { Effect } from "effect"
import { Orchestrator } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { workers } from "./example.ts"
import { bestOf, bold, dim, line, ms } from "./terminal.ts"
import { fib } from "./workers/math.ts"
import { Fib } from "./workers/tasks.ts"

export const example: Example = {
  name: "fibonacci",
  summary: "fib sequential on the main thread vs parallel on the worker pool",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const n = small ? 32 : 35
      const inputs = Array.from({ length: workers * 2 }, () => n)
      yield* line(`fib(${n}) × ${inputs.length}, on ${workers} workers`)

      const rounds = 6
      const [sequential, sequentialMillis] = yield* bestOf(rounds, Effect.sync(() => inputs.map(fib)))
      yield* line(`  main thread, one after another  ${ms(sequentialMillis).padStart(9)}  ${dim(`best of ${rounds}`)}`)
      const [parallel, parallelMillis] = yield* bestOf(
        rounds,
        Effect.forEach(inputs, (k) => orchestrator.offload(Fib, k), { concurrency: "unbounded" })
      )
      yield* line(`  worker pool, in parallel        ${ms(parallelMillis).padStart(9)}  ${dim(`best of ${rounds}`)}`)

      if (parallel.some((value, i) => value !== sequential[i])) {
        return yield* Effect.fail(new Error(`the workers computed ${parallel} instead of ${sequential}`))
      }
      yield* line(`  fib(${n}) = ${sequential[0]} on both sides`)
      yield* line(bold(`  speedup: ${(sequentialMillis / parallelMillis).toFixed(2)}× with ${workers} workers`))
    })
}
