// Task definitions of the pool benchmark, shared by the benchmark and its worker entry.
import * as Schema from "effect/Schema"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"

export const Inc = WorkerTask.make("inc", { payload: Schema.Number, success: Schema.Number })
export const Fib = WorkerTask.make("fib", { payload: Schema.Number, success: Schema.Number })
/** Moves each array to the worker, which frees it once the call has answered (see `releasePayload`). */
export const Sum = WorkerTask.make("sum", {
  payload: WorkerTask.Float64Array,
  success: Schema.Number,
  transfer: true,
  releasePayload: true
})
/** The same without `releasePayload`: the worker's garbage collector frees the arrays. */
export const SumGc = WorkerTask.make("sumGc", {
  payload: WorkerTask.Float64Array,
  success: Schema.Number,
  transfer: true
})
export const BenchTasks = WorkerTask.group(Inc, Fib, Sum, SumGc)

export { fib, sum } from "./pool-plain.ts"
