// A thread worker with typed tasks says it is ready before it loads what typed calls need (the telemetry
// recorder and `effect/Logger`, the wire codecs), so that the pool's first call travels while it loads; a call
// sent the moment the ready message arrives is answered once that is done.
import { assert, describe, it } from "@effect/vitest"
import { Worker } from "node:worker_threads"
import { OP_READY, OP_RUN, OP_SUCCESS, SIGNAL_CELLS, SIGNAL_SENT } from "../../src/runtime/wire/Protocol.ts"
import { workerDataKey } from "../../src/runtime/wire/WorkerMarkers.ts"

const bootstrap = new URL("../../src/runtime/worker/ThreadBootstrap.ts", import.meta.url)
const entry = new URL("./fixtures/reports-loads.ts", import.meta.url)

describe("thread boot", () => {
  it("announces ready before loading the typed runtime, and answers a call sent at once", async () => {
    const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_CELLS * Int32Array.BYTES_PER_ELEMENT))
    const worker = new Worker(bootstrap, {
      workerData: { [workerDataKey]: { entry: entry.href, effectResolution: true, compileCache: false, signal } }
    })
    try {
      const seen: Array<string> = []
      const answer = await new Promise<unknown>((resolve, reject) => {
        worker.on("error", reject)
        worker.on("exit", (code) => reject(new Error(`the worker exited (${code})`)))
        worker.on("message", (batch: ReadonlyArray<unknown>) => {
          if (batch[0] === "loading") {
            seen.push("loading")
          } else if (batch[0] === OP_READY) {
            seen.push("ready")
            worker.postMessage([OP_RUN, 1, 0, 21])
            Atomics.add(signal, SIGNAL_SENT, 1)
            Atomics.notify(signal, SIGNAL_SENT, 1)
          } else if (batch[0] === OP_SUCCESS && batch[1] === 1) {
            seen.push("answer")
            resolve(batch[2])
          }
        })
      })
      assert.strictEqual(answer, 42)
      assert.deepStrictEqual(seen, ["ready", "loading", "answer"])
    } finally {
      await worker.terminate()
    }
  }, 30_000)
})
