// Worker entry of the pool benchmark (effect-orchestrator).
import * as Effect from "effect/Effect"
import { serve } from "../../src/runtime/worker/Server.ts"
import { BenchTasks, fib, sum } from "./pool-tasks.ts"

export default serve(BenchTasks, {
  inc: (x) => Effect.succeed(x + 1),
  fib: (n) => Effect.sync(() => fib(n)),
  sum: (xs) => Effect.sync(() => sum(xs)),
  sumGc: (xs) => Effect.sync(() => sum(xs))
})
