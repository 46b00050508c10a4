// Worker entry of `bench/soak-heaps.ts` (effect-orchestrator).
import * as Effect from "effect/Effect"
import { serve } from "../../src/runtime/worker/Server.ts"
import { SoakTasks } from "./soak-heaps-tasks.ts"
import { heap } from "./soak-heaps.ts"

export default serve(SoakTasks, {
  work: (id) => Effect.succeed(id),
  heap: (spinMillis) => Effect.sync(() => heap(spinMillis))
})
