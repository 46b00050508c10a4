// Worker entry of the distributed benchmark's consumers.
import { serve } from "../../src/worker.ts"
import { handlers } from "./distributed-handlers.ts"
import { BenchTasks } from "./distributed-tasks.ts"

export default serve(BenchTasks, handlers)
