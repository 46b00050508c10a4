// Handlers of the distributed benchmark's tasks: served by its worker entry, and in-process by consumers started
// with IN_PROCESS=1.
import * as Effect from "effect/Effect"
import type * as WorkerTask from "../../src/domain/WorkerTask.ts"
import type { BenchTasks } from "./distributed-tasks.ts"

export const handlers: WorkerTask.Handlers<typeof BenchTasks> = {
  inc: (n) => Effect.succeed(n + 1),
  sleep: (ms) => Effect.as(Effect.sleep(ms), ms),
  spin: (ms) =>
    Effect.sync(() => {
      const end = performance.now() + ms
      let n = 0
      while (performance.now() < end) n++
      return n
    })
}
