/**
 * The wire protocol between a worker pool and its workers, shared by both sides.
 *
 * Messages travel in batches: one `postMessage` (or `process.send`) carries a flat array of fixed-width
 * records, so a burst of tiny tasks costs one structured clone and one wake-up instead of one per task.
 * - main to worker, 4 slots per record: `[op, id, taskIndex, payload]`; a call made under a span is preceded by
 *   `[OP_TRACE, id, traceId, spanId]`, so that calls without one cost nothing more
 * - worker to main, 4 slots per record: `[op, id, value, cpu]`, where `cpu` is the synchronous time (ms) the
 *   worker spent in the call's handler, from which the pool tells CPU-bound tasks from light ones, negated
 *   ({@link suspendedCpu}) when the handler suspended before it completed, from which the pool tells the tasks
 *   it may pipeline deeper (their calls never run at once) from the others
 *
 * Each worker keeps a start log that the pool reads once the worker is gone (`SIGNAL_TAKEN`: a cell of the
 * shared signal memory for threads, a 4-byte file for child processes): how many run records it had taken up.
 * Both sides number the run records to one worker in sending order, so after a crash or a termination the
 * pool knows which calls never started (sent again) and which had (failed, never sent again).
 *
 * Values are encoded with the task's schemas (`Schema.toCodecJson`, see `WireCodec.ts`) before the
 * structured clone; primitive schemas skip the codec (a `typeof` check is all they need), which keeps tiny
 * tasks cheap.
 *
 * Imported inside every worker: no `effect` imports at all, so that a worker serving only `offload` boots
 * without loading `effect` (as fast as a bare thread).
 *
 * @since 0.1.0
 */
import type { TransferListItem } from "node:worker_threads"

/**
 * The `cpu` of an answer to a call whose handler suspended (awaited something) before it completed: its
 * synchronous time, negated, and never -0, so that the sign alone says it (see `TaskStats.record`).
 */
export const suspendedCpu = (cpuMillis: number): number => -Math.max(cpuMillis, 1e-6)

// main -> worker
/** Run task `taskIndex` with `payload` under call id `id`. */
export const OP_RUN = 0
/** Interrupt the fiber of call `id`. */
export const OP_INTERRUPT = 1
/**
 * The next run record of call `id` runs under the caller's span: `[OP_TRACE, id, traceId, spanId]`. Sent only
 * when the caller has a (sampled) span, right before the call's `OP_RUN` record.
 */
export const OP_TRACE = 2
/** Width of a main-to-worker record. */
export const TO_WORKER_WIDTH = 4

// worker -> main
/** The call succeeded; value is the encoded success. */
export const OP_SUCCESS = 0
/** The call failed with its typed error; value is the encoded error. */
export const OP_FAILURE = 1
/** The call died; value is the defect encoded with `Schema.Defect({ includeStack: true })`. */
export const OP_DEFECT = 2
/** The call was interrupted, as asked or from inside the handler. */
export const OP_INTERRUPTED = 3
/** The worker rejected the payload; value is `{ reason, detail }` (see `PayloadInvalid`). */
export const OP_INVALID = 4
/** The worker's used heap in bytes (id is 0); sent only when the pool recycles on heap size. */
export const OP_HEAP = 5
/** The worker is ready (id is 0); value is `{ names }`, the task names by index. Sent alone. */
export const OP_READY = 6
/**
 * What call `id`'s handler traced and logged (id is the call's; value is a `CallTelemetry`, cpu 0). Sent only
 * when there is something, right before the call's answer, so the pool replays it as the caller resumes.
 */
export const OP_TELEMETRY = 8
/** Width of a worker-to-main record. */
export const TO_MAIN_WIDTH = 4

export {
  bootSlotKey,
  OP_FATAL,
  processOptionsKey,
  servedKey,
  SIGNAL_CELLS,
  SIGNAL_SENT,
  SIGNAL_SKIP,
  SIGNAL_TAKEN,
  skipKey,
  workerDataKey,
  workerEnvKey
} from "./WorkerMarkers.ts"
export type { BootSlot, WorkerBootOptions } from "./WorkerMarkers.ts"

/** A finished span of a worker handler, as it crosses the wire (times are bigint nanoseconds as strings). */
export interface WireSpan {
  /** The worker's id of the span, so that spans nested in the worker keep their shape on the main side. */
  readonly id: string
  /** The worker id of its parent span when that is another span of the same call; undefined: the caller's. */
  readonly parent: string | undefined
  readonly name: string
  readonly kind: string
  readonly sampled: boolean
  readonly start: string
  readonly end: string
  readonly attributes: ReadonlyArray<readonly [string, unknown]>
  readonly events: ReadonlyArray<readonly [name: string, time: string, attributes: Record<string, unknown>]>
  /** 0 success, 1 failure, 2 defect, 3 interrupted; `error` is the encoded error or defect (`encodeDefect`). */
  readonly exit: 0 | 1 | 2 | 3
  readonly error?: unknown
}

/** A log line of a worker handler, as it crosses the wire. */
export interface WireLog {
  readonly level: string
  /** The message parts, reduced to values every transport can clone. */
  readonly message: ReadonlyArray<unknown>
  readonly annotations: Record<string, unknown>
  /** Milliseconds since the epoch, as the worker's clock read it. */
  readonly date: number
  /** The reasons of the log's cause, `[1 fail | 2 die, encoded]` (`encodeDefect`); absent when empty. */
  readonly cause?: ReadonlyArray<readonly [1 | 2, unknown]> | undefined
}

/** What one call's handler traced and logged, capped per call; `dropped` counts what the caps left out. */
export interface CallTelemetry {
  readonly spans: ReadonlyArray<WireSpan>
  readonly logs: ReadonlyArray<WireLog>
  readonly droppedSpans: number
  readonly droppedLogs: number
}

/** Most spans and log lines one call ships back; the rest are counted, not sent. */
export const telemetryCap = 64

/** Name of the built-in task behind `offload`, served by every worker. */
export const offloadTaskName = "__orchestrator/offload"

/** Payload of the built-in offload task. */
export interface OffloadPayload {
  readonly source: string
  readonly args: ReadonlyArray<unknown>
  /** The function is applied to each item of `args[0]` in turn, and the call answers the array of results. */
  readonly each?: true | undefined
}

/** Raised by a codec when a value does not match its schema; `detail` names the path and the value. */
export class CodecError {
  readonly detail: string
  constructor(detail: string) {
    this.detail = detail
  }
}

/** Encodes values of one schema for the wire, and decodes them on the other side. Both throw `CodecError`. */
export interface ValueCodec {
  readonly encode: (value: unknown) => unknown
  readonly decode: (value: unknown) => unknown
}

/**
 * Encodes a defect (any thrown value) so that `Schema.Defect` decodes it on the other side as an `Error` with
 * its name, message, stack and cause; other values travel as JSON. Written by hand, in the shape of
 * `Schema.Defect({ includeStack: true })`, so that workers without typed tasks need not load `effect/Schema`.
 */
export const encodeDefect = (defect: unknown, depth = 0): unknown => {
  if (defect instanceof globalThis.Error) {
    const encoded: Record<string, unknown> = { name: defect.name, message: defect.message }
    if (typeof defect.stack === "string") encoded.stack = defect.stack
    if (defect.cause !== undefined && depth < 8) encoded.cause = encodeDefect(defect.cause, depth + 1)
    return encoded
  }
  try {
    const json = JSON.stringify(defect)
    return json === undefined ? String(defect) : JSON.parse(json)
  } catch {
    return String(defect)
  }
}

/**
 * Visits the buffers a value references: those of typed arrays and `DataView`s (with whether the view covers
 * its whole buffer), and bare `ArrayBuffer`s. Walks arrays and plain objects only, a few levels deep. The one
 * walk behind what the pool moves (`collectTransferables`) and what a worker frees (`Server`'s payload release).
 */
export const forEachBuffer = (
  value: unknown,
  visit: (buffer: ArrayBufferLike, whole: boolean) => void,
  depth = 0
): void => {
  if (value === null || typeof value !== "object" || depth > 8) return
  if (globalThis.ArrayBuffer.isView(value)) {
    const buffer = value.buffer
    return visit(buffer, value.byteOffset === 0 && value.byteLength === buffer.byteLength)
  }
  if (value instanceof globalThis.ArrayBuffer) return visit(value, true)
  if (Array.isArray(value)) {
    for (const item of value) forEachBuffer(item, visit, depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return
  for (const key in value) forEachBuffer((value as Record<string, unknown>)[key], visit, depth + 1)
}

/**
 * Collects the `ArrayBuffer`s in a value that can be moved: those of typed arrays and `DataView`s that cover
 * their whole buffer, and bare `ArrayBuffer`s (see `forEachBuffer`).
 */
export const collectTransferables = (value: unknown, out: Array<TransferListItem>): void =>
  forEachBuffer(value, (buffer, whole) => {
    if (whole && buffer instanceof globalThis.ArrayBuffer && !out.includes(buffer)) out.push(buffer)
  })

/** Whether an error thrown by `postMessage`/`send` means a value could not be cloned. */
export const isCloneError = (error: unknown): boolean =>
  typeof error === "object" && error !== null &&
  ((error as { name?: unknown }).name === "DataCloneError" ||
    (error as { code?: unknown }).code === 25 ||
    /could not be cloned|cannot be cloned|DataCloneError|transfer/i.test(String((error as Error).message)))
