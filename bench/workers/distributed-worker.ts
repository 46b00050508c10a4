// Worker entry of the distributed benchmark's consumers.
import * as Effect from "effect/Effect"
import { serve } from "../../src/worker.ts"
import { BenchTasks } from "./distributed-tasks.ts"

export default serve(BenchTasks, {
  inc: (n) => Effect.succeed(n + 1),
  sleep: (ms) => Effect.as(Effect.sleep(ms), ms),
  spin: (ms) =>
    Effect.sync(() => {
      const end = performance.now() + ms
      let n = 0
      while (performance.now() < end) n++
      return n
    })
})
