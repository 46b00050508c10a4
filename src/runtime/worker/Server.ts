/**
 * The worker side of a pool: `serve(group, handlers)` in a worker entry file answers the pool's calls with
 * Effect handlers. Each call runs in its own fiber (`Effect.runFork`), so a worker runs several calls at
 * once, and an interrupt from the pool interrupts that fiber; a handler that returns an Effect that is already
 * its outcome (`Effect.succeed`, `Effect.fail`: these are `Exit`s) is answered without a fiber. Answers are
 * batched per macrotask, and each carries the synchronous time its handler took, from which the pool tells
 * CPU-bound tasks from light ones.
 *
 * Keep worker entry files light: import `serve` from this module and schemas with deep imports
 * (`effect/Schema`, `effect/Effect`), not the `effect` barrel; boot time roughly halves. This module itself
 * loads `effect` only when the group has typed tasks, so a worker that serves only `offload` boots like a
 * bare thread.
 *
 * Worker entry files run as plain Node: TypeScript entries must use erasable syntax only (no `enum`, no
 * parameter properties, no namespaces) and `.ts` extensions in relative imports.
 *
 * @example
 * ```ts
 * // math-worker.ts
 * import * as Effect from "effect/Effect"
 * import { serve } from "effect-orchestrator/worker"
 * import { Fib, FibTooBig, MathTasks } from "../math-tasks.ts"
 *
 * const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)
 *
 * export default serve(MathTasks, {
 *   fib: (n) => n > 40 ? Effect.fail(new FibTooBig({ n })) : Effect.sync(() => fib(n)),
 *   sum: (xs) => Effect.sync(() => xs.reduce((a, b) => a + b, 0))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type { MessagePort, TransferListItem } from "node:worker_threads"
import type { Any, AnySchema, Group, Handlers } from "../../domain/WorkerTask.ts"
import * as FunctionSource from "../wire/FunctionSource.ts"
import {
  CodecError,
  collectTransferables,
  encodeDefect,
  isCloneError,
  offloadTaskName,
  OP_DEFECT,
  OP_FAILURE,
  OP_HEAP,
  OP_INTERRUPT,
  OP_INTERRUPTED,
  OP_INVALID,
  OP_READY,
  OP_RUN,
  OP_SUCCESS,
  processOptionsKey,
  SIGNAL_SENT,
  SIGNAL_SKIP,
  skipKey,
  TO_MAIN_WIDTH,
  TO_WORKER_WIDTH,
  workerDataKey
} from "../wire/Protocol.ts"
import type { OffloadPayload, ValueCodec, WorkerBootOptions } from "../wire/Protocol.ts"
import { spinMillis, WaitStrategy } from "./WaitStrategy.ts"

/** A group with its handlers: what `serve` returns, and what `WorkerPool.layerTest` runs in-process. */
export interface Served<G extends Group<Any>> {
  readonly _tag: "Served"
  readonly group: G
  readonly handlers: Handlers<G>
  /** Whether this call of `serve` attached to a pool (false when the file is imported outside a pool worker). */
  readonly attached: boolean
}

/** How a server talks to its pool: a way to post batches; incoming batches are fed to `handle`. */
export interface ServerChannel {
  readonly post: (batch: Array<unknown>, transfer: Array<TransferListItem> | undefined) => void
  readonly canTransfer: boolean
}

/** A running server: feed it the pool's batches. */
export interface Server {
  readonly handle: (batch: ReadonlyArray<unknown>) => void
  /** Interrupts every running call (used when an in-process worker is terminated). */
  readonly interruptAll: () => void
  /** Whether a call is still running (an asynchronous handler waiting on something). */
  readonly busy: () => boolean
  /** Sends the answers ready so far now, rather than at the end of the microtask queue. */
  readonly flush: () => void
}

/** What typed tasks need at run time: `effect`'s `runFork` and `Exit.isExit`, and the schema codecs. */
export interface TypedRuntime {
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /**
   * Whether a handler's Effect is already its outcome (`Effect.succeed`, `Effect.fail` and the like are `Exit`s):
   * then it is answered without a fiber, which halves the worker's cost of a tiny call. Absent: always a fiber.
   */
  readonly isExit?: (u: unknown) => u is Exit.Exit<unknown, unknown>
  readonly codecFor: (schema: AnySchema) => ValueCodec
}

interface Entry {
  readonly name: string
  readonly run: (payload: unknown) => Effect.Effect<unknown, unknown>
  readonly payload: ValueCodec
  readonly success: ValueCodec
  readonly error: ValueCodec
  readonly transfer: boolean
  /** Free the payload's buffers once the call has answered (`WorkerTask.releasePayload`). */
  readonly release: boolean
}

/** Fails at once (at import, in a worker: a boot error the pool reports) when a task has no handler. */
const checkHandlers = (group: Group<Any>, handlers: unknown): void => {
  for (const task of group.tasks) {
    if (typeof (handlers as Record<string, unknown> | undefined)?.[task.name] !== "function") {
      throw new TypeError(`serve: no handler for task "${task.name}"`)
    }
  }
}

const toEntries = (group: Group<Any>, handlers: unknown, runtime: TypedRuntime): ReadonlyArray<Entry> =>
  group.tasks.map((task) => ({
    name: task.name,
    run: (handlers as Record<string, Entry["run"]>)[task.name]!,
    payload: runtime.codecFor(task.payload),
    success: runtime.codecFor(task.success),
    error: runtime.codecFor(task.error),
    transfer: task.transfer,
    release: task.releasePayload === true
  }))

/**
 * Counts the `ArrayBuffer`s the payloads of a batch reference (any view, or bare), walking arrays and plain
 * objects as `collectTransferables` does: a buffer that two calls share must outlive both, so neither frees it.
 */
const countBuffers = (value: unknown, counts: Map<unknown, number>, depth = 0): void => {
  if (value === null || typeof value !== "object" || depth > 8) return
  if (globalThis.ArrayBuffer.isView(value)) {
    counts.set(value.buffer, (counts.get(value.buffer) ?? 0) + 1)
    return
  }
  if (value instanceof globalThis.ArrayBuffer) {
    counts.set(value, (counts.get(value) ?? 0) + 1)
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) countBuffers(item, counts, depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return
  for (const key in value) countBuffers((value as Record<string, unknown>)[key], counts, depth + 1)
}

/**
 * Frees a buffer now: `transfer(0)` detaches it and drops its memory at once, where the garbage collector would
 * only free it at its next full collection (which external memory brings on, for the whole heap).
 */
const free = (buffer: TransferListItem): void => {
  const b = buffer as { readonly detached?: boolean; readonly transfer?: (length: number) => unknown }
  if (b.detached === true || typeof b.transfer !== "function") return
  try {
    b.transfer(0)
  } catch {
    // a buffer that cannot be detached (a WebAssembly memory's, say) is left to the garbage collector
  }
}

/** Task names by index, as announced in the ready message: the group's, then the built-in offload task. */
export const taskNames = (group: Group<Any>): ReadonlyArray<string> => [
  ...group.tasks.map((task) => task.name),
  offloadTaskName
]

/**
 * While a batch of calls runs, the answers ready so far leave at least this often (ms), rather than all at the
 * end of the batch: the pool then refills the worker while it works on the rest, so a worker whose pipeline is
 * capped (moved buffers, CPU budget) never drains it before its next calls arrive. Tiny calls still leave
 * hundreds to a message. Measured with 200 × 1 MiB sums against raw `worker_threads` (2-core VM, paired
 * rounds in one process): 0.80-0.85 of raw's throughput when answers left at the end of the batch (or after
 * 1 ms), 0.89-0.95 at 0.25 ms; 0.1 and 0.5 ms did no better.
 */
const answerFlushMillis = 0.25

/**
 * Builds a server for a group on any channel. `serve` wires it to the thread's or process's channel;
 * `WorkerPool.layerTest` wires it to an in-process one. `runtime` is required when the group has tasks.
 */
export const makeServer = <G extends Group<Any>>(
  group: G,
  handlers: Handlers<G>,
  channel: ServerChannel,
  options: WorkerBootOptions = {},
  runtime?: TypedRuntime
): Server => {
  checkHandlers(group, handlers)
  if (group.tasks.length > 0 && runtime === undefined) throw new Error("makeServer: typed tasks need a runtime")
  const entries = runtime === undefined ? [] : toEntries(group, handlers, runtime)
  const isExit = runtime?.isExit
  const offloadIndex = entries.length
  const running = new Map<number, Fiber.Fiber<unknown, unknown>>()
  /** Offloaded calls whose promise has not settled; deleted when interrupted, so a late result is dropped. */
  const pending = new Set<number>()
  /** Synchronous time (ms) of the call being answered: the pool keeps CPU-bound calls off busy workers. */
  let cpu = 0
  const cpuOf = new Map<number, number>()
  const heapEvery = options.heapReportMillis
  const signal = options.signal
  let lastHeapReport = 0
  /** Whether any task frees its payload: only then are batches checked for buffers shared between calls. */
  const anyRelease = entries.some((entry) => entry.release)
  /** Buffers shared by several calls of the batch being handled: not freed by any of them. */
  let shared: Map<unknown, number> | undefined
  /** Payload buffers of answered calls, freed once the answers in `out` have been posted. */
  let release: Array<TransferListItem> | undefined

  let out: Array<unknown> = []
  let outTransfer: Array<TransferListItem> | undefined
  let recordTransfers: Map<number, Array<TransferListItem>> | undefined
  let flushQueued = false

  const flush = (): void => {
    flushQueued = false
    if (out.length === 0) return
    if (heapEvery !== undefined) {
      const now = performance.now()
      if (now - lastHeapReport >= heapEvery) {
        lastHeapReport = now
        // First, so that the pool retires this worker before it hands it the callers' next calls.
        out.unshift(OP_HEAP, 0, process.getBuiltinModule("node:v8").getHeapStatistics().used_heap_size, 0)
      }
    }
    const batch = out
    const transfer = outTransfer
    const perRecord = recordTransfers
    const toFree = release
    out = []
    outTransfer = undefined
    recordTransfers = undefined
    release = undefined
    try {
      channel.post(batch, transfer)
    } catch (error) {
      if (!isCloneError(error)) throw error
      postOneByOne(batch, perRecord)
    }
    // After the post: an answer that uses a payload buffer has been cloned (or moved) by now.
    if (toFree !== undefined) { for (const buffer of toFree) free(buffer) }
  }

  /** One value in the batch cannot be cloned: sends the records one by one and turns that one into a defect. */
  const postOneByOne = (batch: Array<unknown>, perRecord: Map<number, Array<TransferListItem>> | undefined): void => {
    for (let i = 0; i < batch.length; i += TO_MAIN_WIDTH) {
      const record = batch.slice(i, i + TO_MAIN_WIDTH)
      try {
        channel.post(record, perRecord?.get(batch[i + 1] as number))
      } catch (cause) {
        channel.post([
          OP_DEFECT,
          batch[i + 1],
          encodeDefect(new TypeError(`the worker's answer could not be cloned: ${(cause as Error).message}`)),
          batch[i + 3]
        ], undefined)
      }
    }
  }

  /** Frees `buffers` once the answers queued so far have been posted. */
  const freeAfterPost = (buffers: Array<TransferListItem> | undefined): void => {
    if (buffers !== undefined) release = release === undefined ? buffers : release.concat(buffers)
  }

  /** The buffers of a call's payload that it alone owns, to free once it has answered; undefined when none. */
  const owned = (payload: unknown): Array<TransferListItem> | undefined => {
    const buffers: Array<TransferListItem> = []
    collectTransferables(payload, buffers)
    if (shared === undefined) return buffers.length > 0 ? buffers : undefined
    const own = buffers.filter((buffer) => shared!.get(buffer) === 1)
    return own.length > 0 ? own : undefined
  }

  const reply = (op: number, id: number, value: unknown, transfer?: Array<TransferListItem>): void => {
    out.push(op, id, value, cpu)
    if (transfer !== undefined && transfer.length > 0 && channel.canTransfer) {
      outTransfer = outTransfer === undefined ? transfer : outTransfer.concat(transfer)
      ;(recordTransfers ??= new Map()).set(id, transfer)
    }
    if (!flushQueued) {
      flushQueued = true
      queueMicrotask(flush)
    }
  }

  const complete = (
    id: number,
    entry: Entry,
    exit: Exit.Exit<unknown, unknown>,
    buffers: Array<TransferListItem> | undefined
  ): void => {
    answer(id, entry, exit)
    freeAfterPost(buffers)
  }

  const answer = (id: number, entry: Entry, exit: Exit.Exit<unknown, unknown>): void => {
    if (exit._tag === "Success") {
      let encoded: unknown
      try {
        encoded = entry.success.encode(exit.value)
      } catch (error) {
        return reply(
          OP_DEFECT,
          id,
          encodeDefect(
            new TypeError(
              `the handler of "${entry.name}" succeeded with a value that does not match its success schema: ${
                (error as CodecError).detail
              }`
            )
          )
        )
      }
      if (entry.transfer) {
        const transfer: Array<TransferListItem> = []
        collectTransferables(encoded, transfer)
        return reply(OP_SUCCESS, id, encoded, transfer)
      }
      return reply(OP_SUCCESS, id, encoded)
    }
    let defect: unknown = undefined
    let hasDefect = false
    for (const reason of exit.cause.reasons) {
      if (reason._tag === "Fail") {
        try {
          return reply(OP_FAILURE, id, entry.error.encode(reason.error))
        } catch (error) {
          defect = new TypeError(
            `the handler of "${entry.name}" failed with an error that does not match its error schema: ${
              (error as CodecError).detail
            }`
          )
          hasDefect = true
          break
        }
      }
      if (reason._tag === "Die" && !hasDefect) {
        defect = reason.defect
        hasDefect = true
      }
    }
    if (!hasDefect) return reply(OP_INTERRUPTED, id, undefined)
    reply(OP_DEFECT, id, encodeDefect(defect))
  }

  const offloadFailed = (id: number, error: unknown): void => {
    if (error instanceof ReferenceError) {
      return reply(OP_INVALID, id, { reason: "not-self-contained", detail: FunctionSource.notSelfContained("", error) })
    }
    reply(OP_DEFECT, id, encodeDefect(error))
  }

  /** An offloaded function: a plain call, no fiber (an async one is awaited; interrupting drops its result). */
  const runOffload = (id: number, payload: OffloadPayload): void => {
    let fn: (...args: Array<unknown>) => unknown
    try {
      fn = FunctionSource.compile(payload.source)
    } catch (error) {
      return reply(OP_INVALID, id, { reason: "not-self-contained", detail: String(error) })
    }
    const start = performance.now()
    let result: unknown
    try {
      result = payload.each === true
        ? FunctionSource.mapEach(fn, payload.args[0] as ReadonlyArray<unknown>)
        : fn(...payload.args)
    } catch (error) {
      cpu = performance.now() - start
      return offloadFailed(id, error)
    }
    cpu = performance.now() - start
    if (!(result instanceof Promise)) return reply(OP_SUCCESS, id, result)
    pending.add(id)
    cpuOf.set(id, cpu)
    const settle = (settled: () => void): void => {
      if (!pending.delete(id)) return
      cpu = cpuOf.get(id) ?? 0
      cpuOf.delete(id)
      settled()
    }
    result.then(
      (value) => settle(() => reply(OP_SUCCESS, id, value)),
      (error) => settle(() => offloadFailed(id, error))
    )
  }

  const runCall = (id: number, index: number, payload: unknown): void => {
    cpu = 0
    if (index === offloadIndex) return runOffload(id, payload as OffloadPayload)
    const entry = entries[index]
    if (entry === undefined) {
      return reply(OP_INVALID, id, { reason: "schema", detail: `this worker serves no task with index ${index}` })
    }
    let decoded: unknown
    try {
      decoded = entry.payload.decode(payload)
    } catch (error) {
      if (!(error instanceof CodecError)) throw error
      return reply(OP_INVALID, id, { reason: "schema", detail: error.detail })
    }
    const buffers = entry.release ? owned(payload) : undefined
    const start = performance.now()
    let effect: Effect.Effect<unknown, unknown>
    try {
      effect = entry.run(decoded)
    } catch (error) {
      cpu = performance.now() - start
      reply(OP_DEFECT, id, encodeDefect(error))
      return freeAfterPost(buffers)
    }
    if (isExit?.(effect)) {
      cpu = performance.now() - start
      return complete(id, entry, effect, buffers)
    }
    const fiber = runtime!.runFork(effect)
    const exit = fiber.pollUnsafe()
    const spent = performance.now() - start
    if (exit !== undefined) {
      cpu = spent
      return complete(id, entry, exit, buffers)
    }
    running.set(id, fiber)
    cpuOf.set(id, spent)
    fiber.addObserver((exit) => {
      running.delete(id)
      cpu = cpuOf.get(id) ?? 0
      cpuOf.delete(id)
      complete(id, entry, exit, buffers)
    })
  }

  const interrupt = (id: number): void => {
    if (pending.delete(id)) {
      cpu = cpuOf.get(id) ?? 0
      cpuOf.delete(id)
      return reply(OP_INTERRUPTED, id, undefined)
    }
    running.get(id)?.interruptUnsafe()
  }

  const handle = (batch: ReadonlyArray<unknown>): void => {
    let since = performance.now()
    shared = anyRelease && batch.length > TO_WORKER_WIDTH ? sharedBuffers(batch) : undefined
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
      const op = batch[i]
      const id = batch[i + 1] as number
      if (op === OP_RUN) {
        // Cancelled while it waited here behind a running call (the pool's `Transport.skip`): never started.
        if (signal !== undefined && Atomics.load(signal, SIGNAL_SKIP) === skipKey(id)) {
          cpu = 0
          reply(OP_INTERRUPTED, id, undefined)
          continue
        }
        runCall(id, batch[i + 2] as number, batch[i + 3])
        if (out.length > 0) {
          const now = performance.now()
          if (now - since > answerFlushMillis) {
            flush()
            since = now
          }
        }
      } else if (op === OP_INTERRUPT) {
        interrupt(id)
      }
    }
  }

  /** Counts of the buffers that the payloads of a batch reference, when one of its calls frees its payload. */
  const sharedBuffers = (batch: ReadonlyArray<unknown>): Map<unknown, number> | undefined => {
    let releasing = false
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
      if (batch[i] === OP_RUN && entries[batch[i + 2] as number]?.release === true) {
        releasing = true
        break
      }
    }
    if (!releasing) return undefined
    const counts = new Map<unknown, number>()
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
      if (batch[i] === OP_RUN) countBuffers(batch[i + 3], counts)
    }
    return counts
  }

  const interruptAll = (): void => {
    pending.clear()
    for (const fiber of running.values()) fiber.interruptUnsafe()
  }

  channel.post([OP_READY, 0, { names: taskNames(group) }, 0], undefined)
  return { handle, interruptAll, busy: () => running.size > 0 || pending.size > 0, flush }
}

/** After activity, how long an idle worker keeps waiting on the wake-up signal instead of the event loop. */
const hotMillis = 50
/** The longest single wait: timers and other callbacks of the worker are never held up longer than this. */
const waitSliceMillis = 2

/**
 * Low-latency wake-ups for a thread that has just been busy. Waking an idle thread through its event loop
 * costs tens of microseconds on small machines; for `hotMillis` after its last activity, an idle worker
 * instead waits on a shared counter that the pool bumps after each send (`Atomics.wait`, in slices of
 * `waitSliceMillis`, returning to the event loop after a slice with nothing to do), and reads its messages
 * synchronously. Once cold, it waits on its event loop alone, at no cost. Never while a call is running:
 * asynchronous handlers need the event loop. Whether it spins for a moment before each wait is measured, not
 * fixed (see `WaitStrategy`).
 */
const makeHotWait = (port: MessagePort, signal: Int32Array) => {
  const { receiveMessageOnPort } = process.getBuiltinModule("node:worker_threads")
  let server: Server | undefined
  let seen = Atomics.load(signal, SIGNAL_SENT)
  let hotUntil = 0
  let scheduled = false
  const strategy = new WaitStrategy()
  const loop = (): void => {
    scheduled = false
    if (server === undefined) return
    // Whether the last round answered a call: then this wait measures the turnaround to the next one.
    let answered = false
    // Like a worker blocked on its next message: answer, then wait, and go round while calls keep coming.
    // A slice that ends with nothing to do hands the thread back to the event loop (timers, callbacks).
    while (!server.busy() && performance.now() <= hotUntil) {
      server.flush()
      const start = performance.now()
      const spun = strategy.spinNow()
      let hit = false
      if (spun) {
        const spinUntil = start + spinMillis
        while (!(hit = Atomics.load(signal, SIGNAL_SENT) !== seen) && performance.now() < spinUntil) {
          // spinning on purpose (see WaitStrategy)
        }
      }
      const result = hit ? "not-equal" : Atomics.wait(signal, SIGNAL_SENT, seen, waitSliceMillis)
      seen = Atomics.load(signal, SIGNAL_SENT)
      const arrived = performance.now()
      let handled = false
      let entry: { message: unknown } | undefined
      while ((entry = receiveMessageOnPort(port)) !== undefined) {
        server.handle(entry.message as ReadonlyArray<unknown>)
        handled = true
      }
      if (handled) {
        if (answered) strategy.record(arrived - start, spun, hit)
        answered = true
        hotUntil = performance.now() + hotMillis
      } else if (result === "timed-out") {
        break
      }
    }
    server.flush()
    if (!server.busy() && performance.now() <= hotUntil) schedule()
  }
  const schedule = (): void => {
    if (!scheduled) {
      scheduled = true
      setImmediate(loop)
    }
  }
  return {
    start: (s: Server) => {
      server = s
    },
    activity: (): void => {
      hotUntil = performance.now() + hotMillis
      schedule()
    }
  }
}

/** Loads what typed tasks need; only workers with typed tasks pay for it (their definitions load it anyway). */
const loadTypedRuntime = async (): Promise<TypedRuntime> => {
  const [Effect, Exit, WireCodec] = await Promise.all([
    import("effect/Effect"),
    import("effect/Exit"),
    import("../wire/WireCodec.ts")
  ])
  return { runFork: Effect.runFork, isExit: Exit.isExit, codecFor: WireCodec.codecFor }
}

/**
 * The pool channel of this thread or process, if it is a pool worker. `node:worker_threads` and `node:v8` are
 * loaded when used, not imported: the library's barrel re-exports `serve`, and a program that imports it
 * should not load them at import.
 */
const poolChannel = ():
  | { readonly kind: "thread"; readonly port: MessagePort; readonly options: WorkerBootOptions }
  | { readonly kind: "process"; readonly options: WorkerBootOptions }
  | undefined =>
{
  const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads")
  const threadOptions = (workerData as Record<string, unknown> | null | undefined)?.[workerDataKey]
  if (parentPort !== null && threadOptions !== undefined) {
    return { kind: "thread", port: parentPort, options: threadOptions as WorkerBootOptions }
  }
  const processOptions = (globalThis as Record<symbol, unknown>)[processOptionsKey]
  if (processOptions !== undefined && typeof process.send === "function") {
    return { kind: "process", options: processOptions as WorkerBootOptions }
  }
  return undefined
}

const attach = <G extends Group<Any>>(
  group: G,
  handlers: Handlers<G>,
  target: NonNullable<ReturnType<typeof poolChannel>>,
  runtime: TypedRuntime | undefined
): void => {
  if (target.kind === "thread") {
    const port = target.port
    const hot = target.options.signal !== undefined ? makeHotWait(port, target.options.signal) : undefined
    const server = makeServer(
      group,
      handlers,
      {
        post: (batch, transfer) => {
          port.postMessage(batch, transfer)
          hot?.activity()
        },
        canTransfer: true
      },
      target.options,
      runtime
    )
    hot?.start(server)
    port.on("message", (batch: ReadonlyArray<unknown>) => {
      server.handle(batch)
      hot?.activity()
    })
    return
  }
  const send = process.send!.bind(process)
  const server = makeServer(
    group,
    handlers,
    {
      post: (batch) => {
        send(batch)
      },
      canTransfer: false
    },
    target.options,
    runtime
  )
  process.on("message", server.handle as (message: unknown) => void)
}

let servedHere = false

/**
 * Serves a group of tasks from a worker entry file. Inside a pool worker (thread or child process) it
 * answers the pool; anywhere else (the file imported on the main thread, in a spec) it only returns the
 * group and handlers, for `WorkerPool.layerTest`. A worker serves one group: a second call throws.
 *
 * Every worker also serves the built-in task behind `WorkerPool.offload`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import { WorkerTask } from "effect-orchestrator"
 * import { serve } from "effect-orchestrator/worker"
 *
 * const Inc = WorkerTask.make("inc", { payload: Schema.Number, success: Schema.Number })
 * export default serve(WorkerTask.group(Inc), { inc: (n) => Effect.succeed(n + 1) })
 * ```
 */
export const serve = <G extends Group<Any>>(group: G, handlers: NoInfer<Handlers<G>>): Served<G> => {
  // A missing handler fails here, at import, so the pool reports it as a boot error.
  checkHandlers(group, handlers)
  const target = poolChannel()
  if (target === undefined) return { _tag: "Served", group, handlers, attached: false }
  if (servedHere) throw new Error("serve: this worker already serves a group; a worker entry calls serve once")
  servedHere = true
  if (group.tasks.length === 0) {
    attach(group, handlers, target, undefined)
  } else {
    loadTypedRuntime().then(
      (runtime) => attach(group, handlers, target, runtime),
      (error) =>
        setImmediate(() => {
          throw error // uncaught: the pool receives it as this worker's boot error
        })
    )
  }
  return { _tag: "Served", group, handlers, attached: true }
}
