/**
 * Entry of a child-process pool worker: turns on Node's module compile cache, marks the process as a pool
 * worker for `serve`, then imports the user's entry (its URL is the first argument). Nothing heavy is imported
 * statically, so that it all goes through the cache. An import failure is sent to the pool as a boot error with
 * the error itself, and an uncaught error later is sent before the process exits, so the pool can tell why.
 *
 * @internal
 */
import { OP_FATAL, processOptionsKey, workerEnvKey } from "../wire/WorkerMarkers.ts"
import type { WorkerBootOptions } from "../wire/WorkerMarkers.ts"
import { importEntry, prepare } from "./Boot.ts"

const options: WorkerBootOptions = JSON.parse(process.env[workerEnvKey] ?? "{}")
prepare(options, "process")
// Children of this worker must not think they are pool workers too.
delete process.env[workerEnvKey]
;(globalThis as Record<symbol, unknown>)[processOptionsKey] = options

const report = (error: unknown): void => {
  if (process.connected && typeof process.send === "function") {
    try {
      process.send([OP_FATAL, 0, error, 0], () => process.exit(1))
      return
    } catch {
      // the error itself cannot be cloned: fall through and exit
    }
  }
  process.exit(1)
}

process.on("uncaughtException", (error) => {
  console.error(error)
  report(error)
})
// The pool is gone: nothing left to serve.
process.on("disconnect", () => process.exit(0))

const entry = process.argv[2]
if (entry === undefined) {
  report(new Error("no worker entry given to the process bootstrap"))
} else {
  importEntry(entry).catch(report)
}
