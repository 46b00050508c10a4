// Worker of the raw worker_threads baseline: [id, op, x] in, [id, result] out, one message per task.
import { parentPort } from "node:worker_threads"
import { fib, sum } from "./pool-plain.ts"

const port = parentPort!
port.on("message", (message: [number, number, unknown]) => {
  const [id, op, x] = message
  port.postMessage([id, op === 0 ? (x as number) + 1 : op === 1 ? fib(x as number) : sum(x as Float64Array)])
})
port.postMessage([0, "ready"])
