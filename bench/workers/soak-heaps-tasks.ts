// Tasks of `bench/soak-heaps.ts`, shared with its worker entry.
import * as Schema from "effect/Schema"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"

export const Work = WorkerTask.make("work", { payload: Schema.Number, success: Schema.Number })
export const HeapProbe = WorkerTask.make("heap", { payload: Schema.Number, success: Schema.Unknown })
export const SoakTasks = WorkerTask.group(Work, HeapProbe)
