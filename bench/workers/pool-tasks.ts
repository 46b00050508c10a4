// Task definitions of the pool benchmark, shared by the benchmark and its worker entry.
import * as Schema from "effect/Schema"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"

export const Inc = WorkerTask.make("inc", { payload: Schema.Number, success: Schema.Number })
export const Fib = WorkerTask.make("fib", { payload: Schema.Number, success: Schema.Number })
export const Sum = WorkerTask.make("sum", { payload: WorkerTask.Float64Array, success: Schema.Number, transfer: true })
export const BenchTasks = WorkerTask.group(Inc, Fib, Sum)

export { fib, sum } from "./pool-plain.ts"
