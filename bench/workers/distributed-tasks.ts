// Task definitions of the distributed benchmark, shared by the producer side, the consumers and their worker.
import * as Schema from "effect/Schema"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"

export const Inc = WorkerTask.make("inc", { payload: Schema.Number, success: Schema.Number })
export const Sleep = WorkerTask.make("sleep", { payload: Schema.Number, success: Schema.Number })
/** Burns `ms` of CPU on its worker thread. */
export const Spin = WorkerTask.make("spin", { payload: Schema.Number, success: Schema.Number })
export const BenchTasks = WorkerTask.group(Inc, Sleep, Spin)
