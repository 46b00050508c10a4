/**
 * How the pool reaches one worker: worker threads, child processes, or (for `layerTest`) a server in this
 * very thread. Each transport sends batches, reports incoming batches, errors and the exit, and can be
 * closed gracefully or terminated; the dispatch code above it is the same for all three.
 *
 * Which transport, which bootstrap and which boot flags a pool's options call for is decided here too
 * ({@link spawnerFor}), next to the URLs of the built-in entries, so that no service knows them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { ChildProcess } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { TransferListItem } from "node:worker_threads"
import type { PoolConfig, ResourceLimits } from "../../domain/Config.ts"
import { InvalidConfig } from "../../domain/OrchestratorError.ts"
import type { Any, Group, Handlers } from "../../domain/WorkerTask.ts"
import {
  SIGNAL_CELLS,
  SIGNAL_SENT,
  SIGNAL_SKIP,
  SIGNAL_TAKEN,
  skipKey,
  workerDataKey,
  workerEnvKey
} from "../wire/Protocol.ts"
import type { WorkerBootOptions } from "../wire/Protocol.ts"
import { codecFor } from "../wire/WireCodec.ts"
import * as CallTelemetry from "../worker/CallTelemetry.ts"
import { makeServer } from "../worker/Server.ts"

/** What a transport reports. `onExit` is called exactly once, last. */
export interface TransportEvents {
  readonly onMessage: (batch: ReadonlyArray<unknown>) => void
  readonly onError: (error: unknown) => void
  readonly onExit: (exitCode: number | null, signal: string | null) => void
}

/** One worker as seen from the pool. */
export interface Transport {
  /** Sends a batch. Throws when a value cannot be cloned; then nothing was sent. */
  readonly send: (batch: Array<unknown>, transfer: Array<TransferListItem> | undefined) => void
  /** Stops the worker now, whatever it is doing. */
  readonly terminate: () => void
  /** Stops a worker that has nothing in flight. */
  readonly close: () => void
  /** Whether `transfer` lists move buffers (false: they are copied). */
  readonly canTransfer: boolean
  /**
   * Asks the worker not to start call `id` if it has not started it yet: it answers that it was interrupted
   * instead. Only workers that offer this (threads, through shared memory, which they check before each
   * call) get a CPU-bound call to wait behind the one they run (see `WorkerDispatch`).
   */
  readonly skip?: ((id: number) => void) | undefined
  /**
   * The worker's start log (see `SIGNAL_TAKEN`): how many of the run records sent to it it had taken up, as an
   * int32 that wraps. Read after the exit (or a crash): the calls numbered above it never started. Absent, or
   * undefined: unknown, and every unanswered call counts as started.
   */
  readonly taken?: (() => number | undefined) | undefined
}

/** Starts worker number `id`. */
export type Spawner = (id: number, events: TransportEvents) => Transport

/** What every spawner needs. */
export interface SpawnOptions {
  readonly entry: URL
  readonly name: string
  readonly boot: WorkerBootOptions
  readonly resourceLimits?: ResourceLimits | undefined
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/**
 * The environment that turns Node's compile cache on in a worker from its first line, in the directory
 * `module.enableCompileCache()` uses by default: then the bootstrap and a TypeScript entry load from the cache
 * without Node's TypeScript stripper, which costs about 18 ms a thread to start. Empty when the cache is off or
 * already set in this process's environment (which workers inherit).
 */
const compileCacheEnv = (boot: WorkerBootOptions): Record<string, string> =>
  boot.compileCache === false || process.env.NODE_COMPILE_CACHE !== undefined ||
    process.env.NODE_DISABLE_COMPILE_CACHE !== undefined
    ? {}
    : { NODE_COMPILE_CACHE: path.join(os.tmpdir(), "node-compile-cache") }

const sourceExt = import.meta.url.endsWith(".ts") ? "ts" : "js"
/**
 * The worker bootstraps' folder. In `src` (and a plain `tsc` output) it is beside this module's folder; in the
 * bundle of `npm run build` (scripts/bundle.ts) this module is part of `index.js` at the package's root, and the
 * bootstraps are entries at their `src` paths below it.
 */
const workerFolder = new URL(
  /\/runtime\/pool\/Transport\.[jt]s$/.test(import.meta.url) ? "../worker/" : "./runtime/worker/",
  import.meta.url
)
const threadBootstrapUrl = new URL(`ThreadBootstrap.${sourceExt}`, workerFolder)
const processBootstrapUrl = new URL(`ProcessBootstrap.${sourceExt}`, workerFolder)
/** The entry of pools created without one: it serves only `offload`. */
const functionWorkerUrl = new URL(`FunctionWorker.${sourceExt}`, workerFolder)

/** Where a pool's workers come from, as the user gave it. */
export interface WorkerSource {
  readonly entry?: URL | string | undefined
  readonly name: string
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly compileCache?: boolean | undefined
}

/** The entry's URL: a `file:` (or `data:`) URL or a path; the built-in entry when there is none. */
export const resolveEntry = (entry: URL | string | undefined): URL | InvalidConfig => {
  if (entry === undefined) return functionWorkerUrl
  if (entry instanceof URL) {
    return entry.protocol === "file:" || entry.protocol === "data:"
      ? entry
      : new InvalidConfig({ field: "pool.entry", value: entry.href, detail: "expected a file: URL" })
  }
  if (typeof entry !== "string" || entry.length === 0) {
    return new InvalidConfig({
      field: "pool.entry",
      value: String(entry),
      detail: "expected a file path or a file: URL"
    })
  }
  return entry.startsWith("file:") ? new URL(entry) : pathToFileURL(path.resolve(entry))
}

/**
 * The boot flags a pool's configuration gives every worker, whatever spawns it (threads, processes, or the
 * in-process workers of `WorkerPool.layerTest`): how often answers leave (see `WorkerBootOptions.answerBatch`)
 * and whether the worker reports its heap (for `maxHeapMb`).
 */
export const configBoot = (config: PoolConfig): WorkerBootOptions => ({
  answerBatch: config.concurrentTasksPerWorker,
  ...(config.maxHeapMb !== undefined ? { heapReportMillis: 100 } : {})
})

/** The spawner of a pool: threads or child processes (`config.mode`), with the boot flags its entry needs. */
export const spawnerFor = (source: WorkerSource, config: PoolConfig): Spawner | InvalidConfig => {
  const entry = resolveEntry(source.entry)
  if (entry instanceof InvalidConfig) return entry
  const options: SpawnOptions = {
    entry,
    name: source.name,
    boot: {
      ...configBoot(config),
      compileCache: source.compileCache ?? true,
      // A user's entry serves typed tasks, so it loads `effect`; the built-in one loads none.
      effectResolution: source.entry !== undefined,
      ...(config.niceIncrement !== undefined && config.niceIncrement > 0
        ? { niceIncrement: config.niceIncrement }
        : {})
    },
    resourceLimits: config.resourceLimits,
    execArgv: source.execArgv,
    env: source.env
  }
  return config.mode === "process" ? processSpawner(options) : threadSpawner(options)
}

/**
 * Workers as `node:worker_threads` threads. Each starts from a small bootstrap that turns on Node's compile
 * cache, then imports the entry. Each send bumps a shared counter that a recently busy worker waits on
 * (see `WorkerRuntime`), which makes round trips faster than through the worker's event loop.
 */
export const threadSpawner = (options: SpawnOptions): Spawner => (id, events) => {
  const cacheEnv = compileCacheEnv(options.boot)
  const env = options.env !== undefined || "NODE_COMPILE_CACHE" in cacheEnv
    ? { ...process.env, ...cacheEnv, ...options.env }
    : undefined
  // Bumped after each send: a worker that was just busy waits on it rather than on its event loop.
  const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_CELLS * Int32Array.BYTES_PER_ELEMENT))
  // Loaded at the first spawn rather than imported, like `node:child_process` below.
  const { Worker } = process.getBuiltinModule("node:worker_threads")
  const worker = new Worker(threadBootstrapUrl, {
    name: `${options.name}-${id}`,
    workerData: { [workerDataKey]: { ...options.boot, entry: options.entry.href, signal } },
    ...(options.resourceLimits !== undefined ? { resourceLimits: options.resourceLimits } : {}),
    ...(options.execArgv !== undefined ? { execArgv: [...options.execArgv] } : {}),
    ...(env !== undefined ? { env } : {})
  })
  worker.on("message", events.onMessage)
  worker.on("error", events.onError)
  worker.on("exit", (code) => events.onExit(code, null))
  return {
    send: (batch, transfer) => {
      worker.postMessage(batch, transfer)
      Atomics.add(signal, SIGNAL_SENT, 1)
      Atomics.notify(signal, SIGNAL_SENT, 1)
    },
    skip: (id) => {
      Atomics.store(signal, SIGNAL_SKIP, skipKey(id))
    },
    taken: () => Atomics.load(signal, SIGNAL_TAKEN),
    terminate: () => void worker.terminate(),
    close: () => void worker.terminate(),
    canTransfer: true
  }
}

/** The line V8 prints to stderr before it aborts a process for lack of heap. */
const outOfMemory = /FATAL ERROR:.*(?:heap out of memory|Reached heap limit)/

/** Error reported for a child process that V8 aborted for lack of heap. */
export const outOfMemoryError = (): Error =>
  Object.assign(new RangeError("the worker process ran out of memory (V8 heap limit reached)"), {
    code: "ERR_WORKER_OUT_OF_MEMORY"
  })

/**
 * Workers as child processes (`child_process.fork`, structured-clone IPC). Stronger isolation than threads,
 * at the price of a copy for every message (transfer lists are ignored) and a slower start.
 */
export const processSpawner = (options: SpawnOptions): Spawner => (_id, events) => {
  const limits = options.resourceLimits
  const execArgv = [
    ...(options.execArgv ?? process.execArgv),
    ...(limits?.maxOldGenerationSizeMb !== undefined ? [`--max-old-space-size=${limits.maxOldGenerationSizeMb}`] : []),
    ...(limits?.maxYoungGenerationSizeMb !== undefined
      ? [`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`]
      : []),
    ...(limits?.stackSizeMb !== undefined ? [`--stack-size=${Math.round(limits.stackSizeMb * 1024)}`] : [])
  ]
  let child: ChildProcess
  let exited = false
  /** Whether V8's fatal out-of-memory line went by: an exit reads as out of memory only if V8 then aborted. */
  let oom = false
  // The start log of a process: a file of 4 bytes (see `WorkerBootOptions.takenFile`), removed at the exit.
  // Without it (an unwritable temporary directory) every unanswered call of a dead worker counts as started.
  // `node:fs` is loaded here, with the first child process, so that the barrel loads no file system module.
  const fs = process.getBuiltinModule("node:fs")
  let takenFile: string | undefined = path.join(
    os.tmpdir(),
    `effect-orchestrator-${process.pid}-${globalThis.crypto.randomUUID()}.taken`
  )
  try {
    // Empty until the worker has opened it and written 0: an empty log reads as unknown, not as "none started".
    fs.writeFileSync(takenFile, "")
  } catch {
    takenFile = undefined
  }
  let taken: number | undefined
  const readTaken = (): number | undefined => {
    if (takenFile === undefined) return undefined
    try {
      const bytes = fs.readFileSync(takenFile)
      return bytes.length >= 4 ? bytes.readInt32LE(0) : undefined
    } catch {
      return undefined
    }
  }
  const exit = (code: number | null, signal: string | null): void => {
    if (exited) return
    exited = true
    taken = readTaken()
    if (takenFile !== undefined) fs.rm(takenFile, { force: true }, () => undefined)
    if (oom && (signal === "SIGABRT" || signal === "SIGTRAP" || code === 134 || code === 133)) {
      events.onError(outOfMemoryError())
    }
    events.onExit(code, signal)
  }
  try {
    // Loaded when a process pool first spawns: `node:child_process` brings `net`, `dgram` and the streams,
    // which a program that only uses threads should not load at import.
    const { fork } = process.getBuiltinModule("node:child_process")
    child = fork(fileURLToPath(processBootstrapUrl), [options.entry.href], {
      serialization: "advanced",
      execArgv,
      env: {
        ...process.env,
        ...compileCacheEnv(options.boot),
        ...options.env,
        [workerEnvKey]: JSON.stringify(takenFile === undefined ? options.boot : { ...options.boot, takenFile })
      },
      stdio: ["inherit", "inherit", "pipe", "ipc"]
    })
  } catch (error) {
    queueMicrotask(() => {
      events.onError(error)
      exit(null, null)
    })
    return {
      send: () => undefined,
      terminate: () => undefined,
      close: () => undefined,
      canTransfer: false,
      taken: () => taken
    }
  }
  child.stderr?.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk)
    if (!oom && outOfMemory.test(chunk.toString())) oom = true
  })
  child.on("message", events.onMessage as (message: unknown) => void)
  child.on("error", (error) => {
    events.onError(error)
    // A child that could not be spawned never emits `exit`.
    if (child.pid === undefined) exit(null, null)
  })
  child.on("exit", exit)
  let killTimer: ReturnType<typeof setTimeout> | undefined
  return {
    send: (batch) => {
      if (child.connected) child.send(batch)
    },
    terminate: () => {
      if (!exited) child.kill("SIGKILL")
    },
    close: () => {
      if (exited || killTimer !== undefined) return
      if (child.connected) child.disconnect()
      killTimer = setTimeout(() => child.kill("SIGKILL"), 2_000)
      killTimer.unref()
      child.once("exit", () => clearTimeout(killTimer))
    },
    canTransfer: false,
    taken: () => taken
  }
}

/**
 * Workers that are servers in this thread, for `layerTest`: every message still goes through structured
 * clone (so values that could not cross a real boundary fail the same way), but no thread is started.
 */
export const inProcessSpawner = <G extends Group<Any>>(
  group: G,
  handlers: Handlers<G>,
  boot: WorkerBootOptions
): Spawner =>
(_id, events) => {
  let alive = true
  // The same start log as a thread's, in this thread's memory.
  const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_CELLS * Int32Array.BYTES_PER_ELEMENT))
  const server = makeServer(
    group,
    handlers,
    {
      post: (batch, transfer) => {
        const copy = structuredClone(batch, transfer === undefined ? undefined : { transfer })
        queueMicrotask(() => {
          if (alive) events.onMessage(copy)
        })
      },
      canTransfer: true
    },
    { ...boot, signal },
    { runFork: Effect.runFork, isExit: Exit.isExit, codecFor, telemetry: CallTelemetry }
  )
  const stop = (code: number): void => {
    if (!alive) return
    alive = false
    server.interruptAll()
    queueMicrotask(() => events.onExit(code, null))
  }
  return {
    send: (batch, transfer) => {
      const copy = structuredClone(batch, transfer === undefined ? undefined : { transfer })
      queueMicrotask(() => {
        if (alive) server.handle(copy)
      })
    },
    terminate: () => stop(1),
    close: () => stop(0),
    canTransfer: true,
    taken: () => Atomics.load(signal, SIGNAL_TAKEN)
  }
}
