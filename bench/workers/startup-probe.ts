// A fresh program of the pool benchmark's start-up measure, run once per sample in a process of its own, as a
// user's program starts: it imports what the contender needs, makes a pool of `size` workers and waits for its
// first result. Prints one JSON line: `boot` (Node's start until this module runs), `imports`, `firstResult`
// (pool construction to first result) and `total` (process start to first result), all in ms.
//
// `node startup-probe.ts <ours | oursOffload | piscina | raw> <size>`
import { Worker } from "node:worker_threads"

const [contender, sizeArg] = process.argv.slice(2) as [string, string]
const size = Number(sizeArg)
const boot = performance.now()
const here = (file: string): URL => new URL(file, import.meta.url)

const measure = async (): Promise<{ readonly imports: number; readonly firstResult: number }> => {
  if (contender === "ours" || contender === "oursOffload") {
    const [{ Effect }, WorkerPool, { Inc }] = await Promise.all([
      import("effect"),
      import("../../src/layers/WorkerPool.ts"),
      import("./pool-tasks.ts")
    ])
    const imported = performance.now()
    let result = 0
    const first = contender === "ours"
      ? WorkerPool.make({ entry: here("./pool-worker.ts"), minWorkers: size, maxWorkers: size }).pipe(
        Effect.flatMap((pool) => pool.run(Inc, 1))
      )
      : WorkerPool.make({ minWorkers: size, maxWorkers: size }).pipe(
        Effect.flatMap((pool) => pool.offload((x: number) => x + 1, [1]))
      )
    await Effect.runPromise(Effect.scoped(first.pipe(Effect.tap(() => Effect.sync(() => result = performance.now())))))
    return { imports: imported - boot, firstResult: result - imported }
  }
  if (contender === "piscina") {
    const { Piscina } = await import("piscina")
    const imported = performance.now()
    const pool = new Piscina({ filename: here("./pool-piscina.ts").href, minThreads: size, maxThreads: size })
    await pool.run(1, { name: "inc" })
    const result = performance.now()
    await pool.destroy()
    return { imports: imported - boot, firstResult: result - imported }
  }
  // raw worker_threads: `size` threads, the first call on the first one once it is up
  const imported = performance.now()
  const threads = Array.from({ length: size }, () => new Worker(here("./pool-raw.ts")))
  await new Promise<void>((resolve) => {
    threads[0]!.on("message", (message: [number, unknown]) => {
      if (message[1] === "ready") threads[0]!.postMessage([1, 0, 1])
      else resolve()
    })
  })
  const result = performance.now()
  await Promise.all(threads.map((thread) => thread.terminate()))
  return { imports: imported - boot, firstResult: result - imported }
}

const { firstResult, imports } = await measure()
console.log(JSON.stringify({ boot, imports, firstResult, total: boot + imports + firstResult }))
