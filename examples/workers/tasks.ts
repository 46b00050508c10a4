// Typed task definitions shared by the examples (main side) and the worker entry (worker side).
// Worker-side file: erasable TypeScript only, `.ts` extensions, deep `effect/*` imports.
import { WorkerTask } from "effect-orchestrator/worker"
import * as Schema from "effect/Schema"

/** fib(n), computed the slow way. */
export const Fib = WorkerTask.make("fib", { payload: Schema.Number, success: Schema.Number })

/**
 * One block of rows of a matrix product. With `transfer: true` the row block's buffer is moved to the worker,
 * not copied (so each call needs its own), and the product block moves back the same way. B, the same for every
 * call, lives in a `SharedArrayBuffer`: shared memory is never moved or copied, every worker reads it in place.
 */
export const MultiplyRows = WorkerTask.make("multiplyRows", {
  payload: Schema.Struct({
    rows: WorkerTask.Float64Array,
    b: WorkerTask.Float64Array,
    inner: Schema.Int,
    cols: Schema.Int
  }),
  success: WorkerTask.Float64Array,
  transfer: true
})

/** The number of primes in `[from, to)`. */
export const CountPrimes = WorkerTask.make("countPrimes", {
  payload: Schema.Struct({ from: Schema.Int, to: Schema.Int }),
  success: Schema.Int
})

export const ExampleTasks = WorkerTask.group(Fib, MultiplyRows, CountPrimes)
