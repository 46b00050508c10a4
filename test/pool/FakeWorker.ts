// A scripted worker for the dispatcher's specs (`WorkerDispatch*.test.ts`): it records what the pool sends and
// answers only when a spec tells it to, so every step of a worker's life is in the spec's hands.
import { Exit, Schema } from "effect"
import type { TransferListItem } from "node:worker_threads"
import { PoolConfig } from "../../src/domain/Config.ts"
import type { Call, Resume } from "../../src/runtime/pool/Call.ts"
import type { CallQueueOptions } from "../../src/runtime/pool/CallQueue.ts"
import { Engine } from "../../src/runtime/pool/Dispatch.ts"
import type { PoolEvent } from "../../src/runtime/pool/Dispatch.ts"
import type { Transport, TransportEvents } from "../../src/runtime/pool/Transport.ts"
import type { WorkerAssignment } from "../../src/runtime/pool/WorkerAssignment.ts"
import { OP_READY, OP_RUN, OP_SUCCESS } from "../../src/runtime/wire/Protocol.ts"

/** A call as these specs describe it: the parts the pool's callers set (see `CallEncoding`). */
export interface CallRequest {
  readonly taskId?: string | undefined
  readonly name: string
  /** The task's index in the workers' table. */
  readonly index: number
  /** Already encoded for the wire. */
  readonly payload: unknown
  readonly transfer?: Array<TransferListItem> | undefined
  /** 0: no timeout. */
  readonly timeoutMillis: number
  /** Rank of its priority (0 critical … 3 low); default 2. */
  readonly priority?: number | undefined
  readonly trace?: readonly [traceId: string, spanId: string] | undefined
  /** The caller's cell, told the id of each worker the call is sent to. */
  readonly assignment?: WorkerAssignment | undefined
}

/** Makes and queues a call of `request` on `engine`, as the pool's callers do. */
export const submitCall = (engine: Engine, request: CallRequest, resume: Resume): Call | undefined => {
  const call = engine.newCall(
    engine.route(request.name, request.index),
    request.priority ?? 2,
    request.payload,
    request.timeoutMillis,
    resume
  )
  call.taskId = request.taskId
  if (request.transfer !== undefined) call.moves(request.transfer)
  call.trace = request.trace
  call.assignment = request.assignment
  return engine.enqueue(call)
}

export class FakeWorker {
  readonly sent: Array<ReadonlyArray<unknown>> = []
  /** The transfer list that came with each message in `sent`. */
  readonly transfers: Array<ReadonlyArray<TransferListItem> | undefined> = []
  /** Set by `terminate` (stopped whatever it was doing). */
  terminated = false
  /** Set by `close` (a graceful stop of a worker with nothing in flight). */
  closed = false
  /** Whether it can be told to skip a call before it starts (as thread workers can). */
  static canSkip = true
  /** Whether transfer lists move buffers into it (threads) rather than copy them (child processes). */
  static canTransfer = true
  /** Whether it keeps a start log the pool can read after a crash (threads and child processes do). */
  static hasStartLog = true
  /** The calls it was told to skip. */
  readonly skipped: Array<number> = []
  /** The synchronous time each answer reports. */
  cpuMillis = 0
  /** Its start log: how many run records it took up (undefined: unknown, as for a worker with no log). */
  taken: number | undefined = undefined
  /** When set, `send` throws `sendError` (a broken transport: even an empty batch cannot be sent). */
  sendFails = false
  sendError: unknown = undefined
  readonly id: number
  readonly events: TransportEvents
  constructor(id: number, events: TransportEvents) {
    this.id = id
    this.events = events
  }
  readonly transport: Transport = {
    send: (batch, transfer) => {
      if (this.sendFails) throw this.sendError
      structuredClone(batch) // throws like postMessage on values that cannot be cloned
      this.sent.push(batch)
      this.transfers.push(transfer)
    },
    terminate: () => {
      this.terminated = true
    },
    close: () => {
      this.closed = true
    },
    canTransfer: FakeWorker.canTransfer,
    skip: FakeWorker.canSkip ? (id: number) => void this.skipped.push(id) : undefined,
    taken: FakeWorker.hasStartLog ? () => this.taken : undefined
  }
  ready(names: ReadonlyArray<string> = ["echo"]): void {
    this.events.onMessage([OP_READY, 0, { names }, 0])
  }
  /** Answers every call sent so far with its payload. */
  answerAll(): void {
    const answers: Array<unknown> = []
    for (const batch of this.sent.splice(0)) {
      for (let i = 0; i < batch.length; i += 4) {
        if (batch[i] === OP_RUN) answers.push(OP_SUCCESS, batch[i + 1], batch[i + 3], this.cpuMillis)
      }
    }
    this.events.onMessage(answers)
  }
  /** Answers the calls `ids` (sent so far), with `op`, and forgets them. */
  answer(ids: ReadonlyArray<number>, op = OP_SUCCESS): void {
    const answers: Array<unknown> = []
    for (let b = 0; b < this.sent.length; b++) {
      const batch = this.sent[b]!
      const rest: Array<unknown> = []
      for (let i = 0; i < batch.length; i += 4) {
        if (batch[i] === OP_RUN && ids.includes(batch[i + 1] as number)) {
          answers.push(op, batch[i + 1], op === OP_SUCCESS ? batch[i + 3] : undefined, this.cpuMillis)
        } else rest.push(...batch.slice(i, i + 4))
      }
      this.sent[b] = rest
    }
    this.events.onMessage(answers)
  }
  /** The ids of the run records sent so far (and not answered through `answer`). */
  runIds(): Array<number> {
    const ids: Array<number> = []
    for (const batch of this.sent) {
      for (let i = 0; i < batch.length; i += 4) if (batch[i] === OP_RUN) ids.push(batch[i + 1] as number)
    }
    return ids
  }
  /** Every record sent so far, as [op, id, a, b] tuples. */
  records(): Array<ReadonlyArray<unknown>> {
    const records: Array<ReadonlyArray<unknown>> = []
    for (const batch of this.sent) for (let i = 0; i < batch.length; i += 4) records.push(batch.slice(i, i + 4))
    return records
  }
}

/** What the engine's idle-core probe answers: the machine's real load must not decide these specs. */
export const cores = { spare: true }

export interface SetupOptions {
  /** Called before each worker is made, with those made so far. */
  readonly onSpawn?: (workers: ReadonlyArray<FakeWorker>) => void
  /** When it returns an error for a worker id, the spawner throws it instead of starting that worker. */
  readonly spawnError?: (id: number) => unknown
  readonly queue?: CallQueueOptions
}

/** An engine over fake workers, started; `minWorkers` and `maxWorkers` default to 1. */
export const setup = (config: Partial<PoolConfig> = {}, options: SetupOptions = {}) => {
  const workers: Array<FakeWorker> = []
  const events: Array<PoolEvent> = []
  const engine = new Engine({
    config: Schema.decodeUnknownSync(PoolConfig)({ minWorkers: 1, maxWorkers: 1, ...config }),
    idleCores: { available: () => cores.spare },
    onEvent: (event) => events.push(event),
    queue: options.queue,
    spawner: (id, transportEvents) => {
      options.onSpawn?.(workers)
      const error = options.spawnError?.(id)
      if (error !== undefined) throw error
      const worker = new FakeWorker(id, transportEvents)
      workers.push(worker)
      return worker.transport
    }
  })
  // The pool learns how heavy a task is from its answers; these specs start with a light one.
  engine.statsOf("echo").record(0)
  let bootResult: unknown = "pending"
  engine.start((error) => {
    bootResult = error
  })
  const exits: Array<Exit.Exit<unknown, unknown>> = []
  // Without a queue capacity every call is accepted.
  const call = (request: Partial<CallRequest>) =>
    submitCall(engine, { name: "echo", index: 0, payload: undefined, timeoutMillis: 0, ...request }, (exit) => {
      exits.push(exit as Exit.Exit<unknown, unknown>)
    })
  const submit = (payload: unknown, timeoutMillis = 0) => call({ payload, timeoutMillis })!
  return { engine, workers, exits, events, submit, call, bootResult: () => bootResult }
}

/** Runs the microtasks queued so far (the engine posts each worker's batch in one). */
export const flushMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The typed error an `Exit` failed with, or undefined. */
export const failure = (exit: Exit.Exit<unknown, unknown> | undefined): any => {
  if (exit === undefined || Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  return reason?._tag === "Fail" ? reason.error : undefined
}

/** The value an `Exit` succeeded with, or undefined. */
export const success = (exit: Exit.Exit<unknown, unknown> | undefined): unknown =>
  exit !== undefined && Exit.isSuccess(exit) ? exit.value : undefined
