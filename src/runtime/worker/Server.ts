/**
 * The worker side of a pool: `serve(group, handlers)` in a worker entry file answers the pool's calls with
 * Effect handlers. Each call runs in its own fiber (`Effect.runFork`), so a worker runs several calls at
 * once, and an interrupt from the pool interrupts that fiber; a handler that returns an Effect that is already
 * its outcome (`Effect.succeed`, `Effect.fail`: these are `Exit`s) is answered without a fiber. Answers are
 * batched per macrotask, and each carries the synchronous time its handler took, from which the pool tells
 * CPU-bound tasks from light ones.
 *
 * A typed handler's spans and log lines are recorded and shipped back with its answer, for the pool to replay
 * on the main side (see `CallTelemetry.ts`); under the caller's span when the call carried one.
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
  bootSlotKey,
  CodecError,
  collectTransferables,
  encodeDefect,
  forEachBuffer,
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
  OP_TELEMETRY,
  OP_TRACE,
  processOptionsKey,
  servedKey,
  SIGNAL_SENT,
  SIGNAL_SKIP,
  SIGNAL_TAKEN,
  skipKey,
  suspendedCpu,
  TO_MAIN_WIDTH,
  TO_WORKER_WIDTH,
  workerDataKey
} from "../wire/Protocol.ts"
import type { BootSlot, CallTelemetry, OffloadPayload, ValueCodec, WorkerBootOptions } from "../wire/Protocol.ts"
import { spinMillis, WaitStrategy } from "./WaitStrategy.ts"

/** A group with its handlers: what `serve` returns, and what `WorkerPool.layerTest` runs in-process. */
export interface Served<G extends Group<Any>> {
  readonly _tag: "Served"
  readonly group: G
  readonly handlers: Handlers<G>
  /** Whether this call of `serve` attached to a pool (false when the file is imported outside a pool worker). */
  readonly attached: boolean
}

/**
 * The group of the built-in function worker: no task of its own, only the built-in one behind `offload`. A
 * value, not a `serve` call, so that importing it (as the orchestrator's `layerTest` does) serves nothing.
 */
export const offloadOnly: Served<Group<never>> = {
  _tag: "Served",
  group: { _tag: "WorkerTaskGroup", tasks: [] },
  handlers: {},
  attached: false
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
  /**
   * Records what each call's handler traces and logs, shipped back with its answer (see `CallTelemetry.ts`).
   * Absent: handlers' spans and logs stay in the worker.
   */
  readonly telemetry?: TelemetryRecorder | undefined
}

/** Forks calls with a record of their spans and logs, and encodes the record once the call is over. */
export interface TelemetryRecorder {
  readonly fork: <A, E>(
    effect: Effect.Effect<A, E>,
    trace: readonly [traceId: string, spanId: string] | undefined
  ) => [Fiber.Fiber<A, E>, unknown]
  readonly take: (record: any) => CallTelemetry | undefined
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

// -----------------------------------------------------------------------------------------------------------
// The outbox: answers batched per macrotask

/** The answers a server has ready, posted as one batch at the end of the microtask queue (or when asked). */
interface Outbox {
  /** Queues the answer to call `id`; `cpu` is the synchronous time (ms) its handler took. */
  readonly reply: (op: number, id: number, value: unknown, cpu: number, transfer?: Array<TransferListItem>) => void
  /** Frees `buffers` once the answers queued so far have been posted. */
  readonly freeAfterPost: (buffers: Array<TransferListItem> | undefined) => void
  /** Posts the answers queued so far now. */
  readonly flush: () => void
  /** Answers queued and not posted yet (telemetry records not counted). */
  readonly answers: () => number
  /** Whether answers are waiting to be posted. */
  readonly waiting: () => boolean
}

const makeOutbox = (channel: ServerChannel, heapReportMillis: number | undefined): Outbox => {
  let out: Array<unknown> = []
  let outTransfer: Array<TransferListItem> | undefined
  let recordTransfers: Map<number, Array<TransferListItem>> | undefined
  /** Payload buffers of answered calls, freed once the answers in `out` have been posted. */
  let release: Array<TransferListItem> | undefined
  let flushQueued = false
  let lastHeapReport = 0
  let answers = 0

  /**
   * A value in the batch cannot be posted (not cloneable, or a getter that throws while it is cloned): sends
   * the records one by one and turns the ones that fail into defects of their own call.
   */
  const postOneByOne = (batch: Array<unknown>, perRecord: Map<number, Array<TransferListItem>> | undefined): void => {
    for (let i = 0; i < batch.length; i += TO_MAIN_WIDTH) {
      const record = batch.slice(i, i + TO_MAIN_WIDTH)
      try {
        channel.post(record, perRecord?.get(batch[i + 1] as number))
      } catch (cause) {
        // Telemetry is plain data by construction; should it still fail, the call's answer must not.
        if (batch[i] === OP_TELEMETRY) continue
        channel.post([
          OP_DEFECT,
          batch[i + 1],
          encodeDefect(new TypeError(`the worker's answer could not be sent: ${describeThrown(cause)}`)),
          batch[i + 3]
        ], undefined)
      }
    }
  }

  const flush = (): void => {
    flushQueued = false
    if (out.length === 0) return
    if (heapReportMillis !== undefined) {
      const now = performance.now()
      if (now - lastHeapReport >= heapReportMillis) {
        lastHeapReport = now
        // First, so that the pool retires this worker before it hands it the callers' next calls.
        out.unshift(OP_HEAP, 0, process.getBuiltinModule("node:v8").getHeapStatistics().used_heap_size, 0)
      }
    }
    answers = 0
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
    } catch {
      postOneByOne(batch, perRecord)
    }
    // After the post: an answer that uses a payload buffer has been cloned (or moved) by now.
    if (toFree !== undefined) { for (const buffer of toFree) free(buffer) }
  }

  const reply = (op: number, id: number, value: unknown, cpu: number, transfer?: Array<TransferListItem>): void => {
    out.push(op, id, value, cpu)
    if (op !== OP_TELEMETRY) answers++
    if (transfer !== undefined && transfer.length > 0 && channel.canTransfer) {
      outTransfer = outTransfer === undefined ? transfer : outTransfer.concat(transfer)
      ;(recordTransfers ??= new Map()).set(id, transfer)
    }
    if (!flushQueued) {
      flushQueued = true
      queueMicrotask(flush)
    }
  }

  const freeAfterPost = (buffers: Array<TransferListItem> | undefined): void => {
    if (buffers !== undefined) release = release === undefined ? buffers : release.concat(buffers)
  }

  return { reply, freeAfterPost, flush, waiting: () => out.length > 0, answers: () => answers }
}

const describeThrown = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

// -----------------------------------------------------------------------------------------------------------
// The start log: which calls have started, where the pool can read it after a crash

/** Records the count of run records taken up (see `SIGNAL_TAKEN`); a no-op when the pool gave no place. */
const makeStartLog = (options: WorkerBootOptions): (taken: number) => void => {
  const signal = options.signal
  if (signal !== undefined) return (taken) => Atomics.store(signal, SIGNAL_TAKEN, taken)
  const file = options.takenFile
  if (file === undefined) return () => undefined
  // One positioned write of 4 bytes a call: about 1-3 µs, which a child process's IPC dwarfs. `node:fs` is
  // loaded here, not at import, so that the barrel (which exports `serve`) loads no file system module.
  const fs = process.getBuiltinModule("node:fs")
  let fd: number
  try {
    fd = fs.openSync(file, "r+")
  } catch {
    return () => undefined // no log: the pool counts every unanswered call as started
  }
  const cell = new Int32Array(1)
  const bytes = new Uint8Array(cell.buffer)
  // Written at once: until then the pool reads the log as unknown.
  fs.writeSync(fd, bytes, 0, 4, 0)
  return (taken) => {
    cell[0] = taken
    fs.writeSync(fd, bytes, 0, 4, 0)
  }
}

// -----------------------------------------------------------------------------------------------------------
// Answers: an Exit as a wire record

/** The record that answers a call with `exit`: op, encoded value, and the buffers to move with it. */
const encodeAnswer = (
  entry: Entry,
  exit: Exit.Exit<unknown, unknown>
): readonly [op: number, value: unknown, transfer: Array<TransferListItem> | undefined] => {
  if (exit._tag === "Success") {
    let encoded: unknown
    try {
      encoded = entry.success.encode(exit.value)
    } catch (error) {
      return [
        OP_DEFECT,
        encodeDefect(
          new TypeError(
            `the handler of "${entry.name}" succeeded with a value that does not match its success schema: ${
              (error as CodecError).detail
            }`
          )
        ),
        undefined
      ]
    }
    if (!entry.transfer) return [OP_SUCCESS, encoded, undefined]
    const transfer: Array<TransferListItem> = []
    collectTransferables(encoded, transfer)
    return [OP_SUCCESS, encoded, transfer]
  }
  let defect: unknown = undefined
  let hasDefect = false
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail") {
      try {
        return [OP_FAILURE, entry.error.encode(reason.error), undefined]
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
  return hasDefect ? [OP_DEFECT, encodeDefect(defect), undefined] : [OP_INTERRUPTED, undefined, undefined]
}

// -----------------------------------------------------------------------------------------------------------
// Offloaded functions

/** Runs `offload` calls: a plain call, no fiber (an async one is awaited; interrupting drops its result). */
const makeOffloadRunner = (outbox: Outbox) => {
  /** Calls whose promise has not settled, with their synchronous time; deleted when interrupted. */
  const pending = new Map<number, number>()

  const failed = (id: number, error: unknown, cpu: number): void => {
    if (error instanceof ReferenceError) {
      return outbox.reply(
        OP_INVALID,
        id,
        { reason: "not-self-contained", detail: FunctionSource.notSelfContained("", error) },
        cpu
      )
    }
    outbox.reply(OP_DEFECT, id, encodeDefect(error), cpu)
  }

  const run = (id: number, payload: OffloadPayload): void => {
    let fn: (...args: Array<unknown>) => unknown
    try {
      fn = FunctionSource.compile(payload.source)
    } catch (error) {
      return outbox.reply(OP_INVALID, id, { reason: "not-self-contained", detail: String(error) }, 0)
    }
    const start = performance.now()
    let result: unknown
    try {
      result = payload.each === true
        ? FunctionSource.mapEach(fn, payload.args[0] as ReadonlyArray<unknown>)
        : fn(...payload.args)
    } catch (error) {
      return failed(id, error, performance.now() - start)
    }
    const cpu = performance.now() - start
    if (!(result instanceof Promise)) return outbox.reply(OP_SUCCESS, id, result, cpu)
    const suspended = suspendedCpu(cpu)
    pending.set(id, suspended)
    result.then(
      (value) => {
        if (pending.delete(id)) outbox.reply(OP_SUCCESS, id, value, suspended)
      },
      (error) => {
        if (pending.delete(id)) failed(id, error, suspended)
      }
    )
  }

  /** Answers an interrupted call at once; false when `id` is not one of its calls. */
  const interrupt = (id: number): boolean => {
    const cpu = pending.get(id)
    if (cpu === undefined) return false
    pending.delete(id)
    outbox.reply(OP_INTERRUPTED, id, undefined, cpu)
    return true
  }

  return { run, interrupt, busy: () => pending.size > 0, clear: () => pending.clear() }
}

// -----------------------------------------------------------------------------------------------------------
// Typed calls

/** Runs typed calls, each in its own fiber unless its Effect is already its outcome. */
const makeCallRunner = (runtime: TypedRuntime | undefined, outbox: Outbox) => {
  const isExit = runtime?.isExit
  const telemetry = runtime?.telemetry
  const running = new Map<number, Fiber.Fiber<unknown, unknown>>()

  const complete = (
    id: number,
    entry: Entry,
    exit: Exit.Exit<unknown, unknown>,
    cpu: number,
    buffers: Array<TransferListItem> | undefined,
    record?: unknown
  ): void => {
    if (record !== undefined) {
      // Before the answer, in the same batch: the pool holds it until the answer resumes the caller.
      const shipped = telemetry!.take(record)
      if (shipped !== undefined) outbox.reply(OP_TELEMETRY, id, shipped, 0)
    }
    const [op, value, transfer] = encodeAnswer(entry, exit)
    outbox.reply(op, id, value, cpu, transfer)
    outbox.freeAfterPost(buffers)
  }

  /** Runs call `id`; `buffers` are its payload's own buffers, freed once it has answered. */
  const run = (
    id: number,
    entry: Entry,
    payload: unknown,
    ownBuffers: (payload: unknown) => Array<TransferListItem> | undefined,
    trace: readonly [traceId: string, spanId: string] | undefined
  ): void => {
    let decoded: unknown
    try {
      decoded = entry.payload.decode(payload)
    } catch (error) {
      if (!(error instanceof CodecError)) throw error
      return outbox.reply(OP_INVALID, id, { reason: "schema", detail: error.detail }, 0)
    }
    const buffers = entry.release ? ownBuffers(payload) : undefined
    const start = performance.now()
    let effect: Effect.Effect<unknown, unknown>
    try {
      effect = entry.run(decoded)
    } catch (error) {
      outbox.reply(OP_DEFECT, id, encodeDefect(error), performance.now() - start)
      return outbox.freeAfterPost(buffers)
    }
    if (isExit?.(effect)) return complete(id, entry, effect, performance.now() - start, buffers)
    let fiber: Fiber.Fiber<unknown, unknown>
    let record: unknown
    if (telemetry !== undefined) [fiber, record] = telemetry.fork(effect, trace)
    else fiber = runtime!.runFork(effect)
    const exit = fiber.pollUnsafe()
    const cpu = performance.now() - start
    if (exit !== undefined) return complete(id, entry, exit, cpu, buffers, record)
    running.set(id, fiber)
    fiber.addObserver((exit) => {
      running.delete(id)
      complete(id, entry, exit, suspendedCpu(cpu), buffers, record)
    })
  }

  return {
    run,
    interrupt: (id: number) => running.get(id)?.interruptUnsafe(),
    interruptAll: () => {
      for (const fiber of running.values()) fiber.interruptUnsafe()
    },
    busy: () => running.size > 0
  }
}

// -----------------------------------------------------------------------------------------------------------
// Payload release: buffers shared between the calls of a batch

/**
 * Counts the `ArrayBuffer`s the payloads of a batch reference (any view, or bare; see `forEachBuffer`): a
 * buffer that two calls share must outlive both, so neither frees it. Undefined when no call of the batch frees
 * its payload.
 */
const sharedBuffers = (
  batch: ReadonlyArray<unknown>,
  entries: ReadonlyArray<Entry>
): Map<unknown, number> | undefined => {
  let releasing = false
  for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
    if (batch[i] === OP_RUN && entries[batch[i + 2] as number]?.release === true) {
      releasing = true
      break
    }
  }
  if (!releasing) return undefined
  const counts = new Map<unknown, number>()
  const count = (buffer: ArrayBufferLike): void => void counts.set(buffer, (counts.get(buffer) ?? 0) + 1)
  for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
    if (batch[i] === OP_RUN) forEachBuffer(batch[i + 3], count)
  }
  return counts
}

/** The buffers of a payload that it alone owns (`shared` counts them over its batch); undefined when none. */
const ownedBuffers = (
  payload: unknown,
  shared: Map<unknown, number> | undefined
): Array<TransferListItem> | undefined => {
  const buffers: Array<TransferListItem> = []
  collectTransferables(payload, buffers)
  if (shared === undefined) return buffers.length > 0 ? buffers : undefined
  const own = buffers.filter((buffer) => shared.get(buffer) === 1)
  return own.length > 0 ? own : undefined
}

// -----------------------------------------------------------------------------------------------------------
// The server

/**
 * Builds a server for a group on any channel. `serve` wires it to the thread's or process's channel;
 * `WorkerPool.layerTest` wires it to an in-process one. `runtime` is required when the group has tasks.
 *
 * Before it starts each call it writes the start log (see `SIGNAL_TAKEN`); before a call of a task it has not
 * run yet (the usual suspect of a crash: a fault is most often a task's first run in that worker), it posts the
 * answers it has ready, so that a crash in that call costs no answer of the calls before it.
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
  const offloadIndex = entries.length
  const outbox = makeOutbox(channel, options.heapReportMillis)
  const offload = makeOffloadRunner(outbox)
  const calls = makeCallRunner(runtime, outbox)
  const signal = options.signal
  const logStart = makeStartLog(options)
  const answerBatch = options.answerBatch ?? Number.POSITIVE_INFINITY
  /** Run records taken up so far (int32, wraps), as the start log records it. */
  let taken = 0
  /** Task indexes this worker has run (the offload task: sources it has run). */
  const ran = new Uint8Array(offloadIndex)
  const ranSources = new Set<string>()
  /** Whether any task frees its payload: only then are batches checked for buffers shared between calls. */
  const anyRelease = entries.some((entry) => entry.release)

  /** Whether call `index`/`payload` is the first of its kind here: then the answers so far leave first. */
  const firstRun = (index: number, payload: unknown): boolean => {
    if (index < offloadIndex) {
      if (ran[index] === 1) return false
      ran[index] = 1
      return true
    }
    const source = (payload as OffloadPayload | null)?.source
    if (typeof source !== "string" || ranSources.has(source)) return false
    // Bounded: a worker that sees many distinct functions stops telling them apart.
    if (ranSources.size < 1024) ranSources.add(source)
    return true
  }

  const runCall = (
    id: number,
    index: number,
    payload: unknown,
    shared: Map<unknown, number> | undefined,
    trace: readonly [traceId: string, spanId: string] | undefined
  ): void => {
    if (index === offloadIndex) return offload.run(id, payload as OffloadPayload)
    const entry = entries[index]
    if (entry === undefined) {
      return outbox.reply(OP_INVALID, id, {
        reason: "schema",
        detail: `this worker serves no task with index ${index}`
      }, 0)
    }
    calls.run(id, entry, payload, (p) => ownedBuffers(p, shared), trace)
  }

  /** The caller's span of the next run record, from the `OP_TRACE` record just before it. */
  let trace: readonly [traceId: string, spanId: string] | undefined
  let traceId = 0

  const handle = (batch: ReadonlyArray<unknown>): void => {
    let since = performance.now()
    const shared = anyRelease && batch.length > TO_WORKER_WIDTH ? sharedBuffers(batch, entries) : undefined
    for (let i = 0; i < batch.length; i += TO_WORKER_WIDTH) {
      const op = batch[i]
      const id = batch[i + 1] as number
      if (op === OP_TRACE) {
        trace = [batch[i + 2] as string, batch[i + 3] as string]
        traceId = id
      } else if (op === OP_RUN) {
        const index = batch[i + 2] as number
        if (firstRun(index, batch[i + 3]) && outbox.waiting()) {
          outbox.flush()
          since = performance.now()
        }
        taken = (taken + 1) | 0
        logStart(taken)
        // Cancelled while it waited here behind a running call (the pool's `Transport.skip`): never started.
        if (signal !== undefined && Atomics.load(signal, SIGNAL_SKIP) === skipKey(id)) {
          outbox.reply(OP_INTERRUPTED, id, undefined, 0)
          continue
        }
        const callTrace = traceId === id ? trace : undefined
        trace = undefined
        traceId = 0
        runCall(id, index, batch[i + 3], shared, callTrace)
        if (outbox.waiting()) {
          const now = performance.now()
          if (now - since > answerFlushMillis || outbox.answers() >= answerBatch) {
            outbox.flush()
            since = now
          }
        }
      } else if (op === OP_INTERRUPT) {
        if (!offload.interrupt(id)) calls.interrupt(id)
      }
    }
  }

  const interruptAll = (): void => {
    offload.clear()
    calls.interruptAll()
  }

  channel.post([OP_READY, 0, { names: taskNames(group) }, 0], undefined)
  return { handle, interruptAll, busy: () => calls.busy() || offload.busy(), flush: outbox.flush }
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
  const [Effect, Exit, WireCodec, telemetry] = await Promise.all([
    import("effect/Effect"),
    import("effect/Exit"),
    import("../wire/WireCodec.ts"),
    import("./CallTelemetry.ts")
  ])
  return { runFork: Effect.runFork, isExit: Exit.isExit, codecFor: WireCodec.codecFor, telemetry }
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
    // A call that exits the worker (or throws outside any fiber) costs no answer of the calls before it.
    process.on("exit", server.flush)
    return
  }
  const send = process.send!.bind(process)
  const server = makeServer(
    group,
    handlers,
    {
      post: (batch) => {
        // Gone: the answers have nowhere to go (and the exit handler's last flush must not throw).
        if (process.connected) send(batch)
      },
      canTransfer: false
    },
    target.options,
    runtime
  )
  process.on("message", server.handle as (message: unknown) => void)
  process.on("exit", server.flush)
}

/**
 * Serves a group of tasks from a worker entry file. Inside a pool worker (thread or child process) it
 * answers the pool; anywhere else (the file imported on the main thread, in a spec) it only returns the
 * group and handlers, for `WorkerPool.layerTest`. A worker serves one group: a second call throws, which fails
 * the worker's boot with `WorkerBootFailed` saying so. The worker announces itself ready once its entry has
 * finished loading.
 *
 * Every worker also serves the built-in task behind `WorkerPool.offload`. Worker-side files (the entry, and the
 * definitions it imports) import from `effect-orchestrator/worker`, which holds `WorkerTask` too: the package's
 * main entry would load the whole library into each worker at boot.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import { serve, WorkerTask } from "effect-orchestrator/worker"
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
  const global = globalThis as Record<symbol, unknown>
  if (global[servedKey] !== undefined) {
    throw new Error(
      `serve: this worker already serves a group (tasks: ${String(global[servedKey]) || "(none)"}); a worker ` +
        "calls serve once: move the tasks into one group, and import shared definitions from a module that " +
        "does not call serve"
    )
  }
  global[servedKey] = group.tasks.map((task) => task.name).join(", ")
  const start = (): void | Promise<void> =>
    group.tasks.length === 0
      ? attach(group, handlers, target, undefined)
      : loadTypedRuntime().then((runtime) => attach(group, handlers, target, runtime))
  const slot = global[bootSlotKey] as BootSlot | undefined
  if (slot !== undefined && !slot.imported) {
    // The bootstrap starts it once the entry has loaded: a failure after this call still fails the boot.
    slot.start = start
  } else {
    Promise.resolve().then(start).catch((error) =>
      setImmediate(() => {
        throw error // uncaught: the pool receives it as this worker's boot error
      })
    )
  }
  return { _tag: "Served", group, handlers, attached: true }
}
