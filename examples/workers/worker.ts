// Worker entry of the examples' cpu pool: serves the typed tasks of `tasks.ts` (and, as every entry does, the
// self-contained functions of `offloadFunction` and `batchOffload`).
import { serve } from "effect-orchestrator/worker"
import * as Effect from "effect/Effect"
import { countPrimes, fib, multiplyRows } from "./math.ts"
import { ExampleTasks } from "./tasks.ts"

export default serve(ExampleTasks, {
  fib: (n) => Effect.sync(() => fib(n)),
  multiplyRows: ({ b, cols, inner, rows }) => Effect.sync(() => multiplyRows(rows, b, inner, cols)),
  countPrimes: ({ from, to }) => Effect.sync(() => countPrimes(from, to))
})
