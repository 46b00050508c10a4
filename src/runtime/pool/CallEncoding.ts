/**
 * From a caller's arguments to a call the dispatcher can send: the task looked up in the workers' table, the
 * payload validated and encoded with the task's schema (its codecs built once per task), the buffers to move
 * collected, the timeout decoded, and for `offload` the function checked and turned into source text. Whatever
 * is wrong is the caller's typed error at once, before anything is sent; the dispatcher counts it as failed.
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Tracer from "effect/Tracer"
import type { TransferListItem } from "node:worker_threads"
import type { PoolShutDown, QueueFull, WorkerBootFailed } from "../../domain/OrchestratorError.ts"
import { InvalidConfig, PayloadInvalid, UnknownTask } from "../../domain/OrchestratorError.ts"
import { rankOf } from "../../domain/TaskPriority.ts"
import type { TaskPriority } from "../../domain/TaskPriority.ts"
import type * as WorkerTask from "../../domain/WorkerTask.ts"
import { timeoutMillis as decodeTimeoutMillis } from "../config/ConfigValidation.ts"
import * as FunctionSource from "../wire/FunctionSource.ts"
import { CodecError, collectTransferables, offloadTaskName } from "../wire/Protocol.ts"
import type { ValueCodec } from "../wire/Protocol.ts"
import { codecFor } from "../wire/WireCodec.ts"
import type { Call, CallObserver, Resume, TaskRoute } from "./Call.ts"
import type { Engine } from "./Dispatch.ts"
import * as WorkerAssignment from "./WorkerAssignment.ts"

/** How one call is sent, besides its payload. */
export interface CallOptions {
  /** Limit on the call's time on a worker; the pool's `taskTimeout` when absent; infinite means none. */
  readonly timeout?: Duration.Input | undefined
  /** Reported in `TaskTimeout` and `TaskCancelled`; default `<task name>#<call number>`. */
  readonly taskId?: string | undefined
  /** Its place in the pool's queue while it waits for a worker; default: the task's in context, or normal. */
  readonly priority?: TaskPriority | undefined
  /** Fairness key while it waits; default: the task's in context. */
  readonly key?: string | undefined
}

/** What a caller can be rejected with before anything is sent. */
/**
 * What the orchestrator adds to a call's options: the task's `WorkerAssignment` cell, handed over directly
 * instead of through the fiber's context (a context change costs about 1 µs, a fifth of a tiny call). Not part
 * of the public `RunOptions`: the orchestrator passes it as a value of this wider type.
 */
export interface TrackedCallOptions extends CallOptions {
  readonly assignment?: WorkerAssignment.WorkerAssignment | undefined
  /** Told how the call ended, rejections before it was queued included. */
  readonly observer?: CallObserver | undefined
}

export type Rejection = PoolShutDown | WorkerBootFailed | UnknownTask | PayloadInvalid | InvalidConfig | QueueFull

interface TaskCodecs {
  readonly payload: ValueCodec
  readonly success: ValueCodec
  readonly error: ValueCodec
}

const taskCodecs = new WeakMap<WorkerTask.Any, TaskCodecs>()
const codecsOf = (task: WorkerTask.Any): TaskCodecs => {
  let codecs = taskCodecs.get(task)
  if (codecs === undefined) {
    codecs = { payload: codecFor(task.payload), success: codecFor(task.success), error: codecFor(task.error) }
    taskCodecs.set(task, codecs)
  }
  return codecs
}

/**
 * The caller's span, sent with the call so that the handler runs under it in the worker; none when it has no
 * span, when it is not sampled (its children would not be exported anyway), or under Effect's default tracer,
 * which exports nothing (the orchestrator's span around every task would otherwise make each call pay for span
 * ids nobody reads). The handler's spans join the caller's trace on the main side either way (see
 * `TelemetryReplay.ts`).
 */
const traceOf = (fiber: Fiber.Fiber<unknown, unknown>): readonly [string, string] | undefined => {
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (span === undefined || !span.sampled || fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer) return undefined
  return [span.traceId, span.spanId]
}

/** The two ways to call a pool: a typed task, or a self-contained function (`offload`). */
export interface Callers {
  /** Submits a typed task; undefined when it was rejected (`resume` has been called with the error). */
  readonly task: (task: WorkerTask.Any, payload: unknown, options: TrackedCallOptions | undefined, resume: Resume) =>
    | Call
    | undefined
  /**
   * Submits a function and its arguments; undefined when it was rejected. With `each`, the function is applied
   * to each item of `args[0]` in the worker, and the call answers the array of results.
   */
  readonly fn: (
    fn: (...args: Array<any>) => unknown,
    args: ReadonlyArray<unknown>,
    options: TrackedCallOptions | undefined,
    resume: Resume,
    each?: boolean
  ) => Call | undefined
  /** The typed tasks the workers serve, for `UnknownTask`. */
  readonly known: () => ReadonlyArray<string>
}

/**
 * The callers of one pool. `canTransfer`: whether moved buffers survive the transport (not through a child
 * process's IPC channel). `defaultTimeoutMillis`: the pool's `taskTimeout`, 0 for none.
 */
export const makeCallers = (engine: Engine, canTransfer: boolean, defaultTimeoutMillis: number): Callers => {
  const known = (): ReadonlyArray<string> => (engine.names ?? []).filter((n) => n !== offloadTaskName)

  const reject = (
    name: string,
    resume: Resume,
    error: Rejection,
    options: TrackedCallOptions | undefined
  ): undefined => {
    engine.rejected(name)
    const exit = Exit.fail(error)
    options?.observer?.settled(exit, 0, 0)
    resume(exit)
    return undefined
  }

  /** The call's timeout (0: none) and priority rank, from its options or else the pool's and the task's. */
  const resolve = (
    options: CallOptions | undefined,
    assignment: WorkerAssignment.WorkerAssignment | undefined
  ): { readonly timeoutMillis: number; readonly priority: number | undefined } | InvalidConfig => {
    let timeoutMillis = defaultTimeoutMillis
    if (options?.timeout !== undefined) {
      const decoded = decodeTimeoutMillis(options.timeout, "timeout")
      if (typeof decoded !== "number") return decoded
      // The dispatcher spells "no timeout" 0.
      timeoutMillis = decoded === Number.POSITIVE_INFINITY ? 0 : decoded
    }
    let priority = assignment?.priority
    if (options?.priority !== undefined) {
      priority = rankOf(options.priority)
      if (priority === undefined) {
        return new InvalidConfig({
          field: "priority",
          value: String(options.priority),
          detail: "not a priority level (critical, high, normal, low)"
        })
      }
    }
    return { timeoutMillis, priority }
  }

  /** Per task: its route on this pool (made once its index is known) and its payload codec. */
  const taskRoutes = new WeakMap<WorkerTask.Any, { readonly route: TaskRoute; readonly payload: ValueCodec }>()
  const routeOf = (task: WorkerTask.Any): { readonly route: TaskRoute; readonly payload: ValueCodec } | undefined => {
    let entry = taskRoutes.get(task)
    if (entry === undefined) {
      const index = engine.indexOf(task.name)
      if (index === undefined || task.name === offloadTaskName) return undefined
      const codecs = codecsOf(task)
      entry = { route: engine.route(task.name, index, codecs.success, codecs.error), payload: codecs.payload }
      taskRoutes.set(task, entry)
    }
    return entry
  }
  /** Per `offload` name (`offload:<function name>`). */
  const fnRoutes = new Map<string, TaskRoute>()
  const fnRouteOf = (name: string): TaskRoute => {
    let route = fnRoutes.get(name)
    if (route === undefined) {
      route = engine.route(name, engine.indexOf(offloadTaskName)!)
      fnRoutes.set(name, route)
    }
    return route
  }

  const task: Callers["task"] = (task, payload, options, resume) => {
    const rejected = engine.rejection()
    if (rejected !== undefined) return reject(task.name, resume, rejected, options)
    const entry = routeOf(task)
    if (entry === undefined) {
      return reject(task.name, resume, new UnknownTask({ taskName: task.name, known: known() }), options)
    }
    let encoded: unknown
    try {
      encoded = entry.payload.encode(payload)
    } catch (error) {
      if (!(error instanceof CodecError)) throw error
      return reject(
        task.name,
        resume,
        new PayloadInvalid({ taskName: task.name, reason: "schema", detail: error.detail }),
        options
      )
    }
    const fiber = Fiber.getCurrent()
    const assignment = options?.assignment ??
      fiber?.getRef(WorkerAssignment.CurrentWorkerAssignment)
    let priority = assignment?.priority
    let timeoutMillis = defaultTimeoutMillis
    // Most calls name neither: no resolution (and no object) for them.
    if (options?.timeout !== undefined || options?.priority !== undefined) {
      const resolved = resolve(options, assignment)
      if (resolved instanceof InvalidConfig) return reject(task.name, resume, resolved, options)
      priority = resolved.priority
      timeoutMillis = resolved.timeoutMillis
    }
    const call = engine.newCall(entry.route, priority ?? 2, encoded, timeoutMillis, resume)
    if (task.transfer && canTransfer) {
      const transfer: Array<TransferListItem> = []
      collectTransferables(encoded, transfer)
      call.moves(transfer)
    }
    call.assignment = assignment
    call.key = options?.key ?? assignment?.key
    if (options !== undefined) {
      call.taskId = options.taskId
      call.observer = options.observer
    }
    if (fiber !== undefined) call.trace = traceOf(fiber)
    return engine.enqueue(call)
  }

  const fn: Callers["fn"] = (fn, args, options, resume, each) => {
    const name = `offload:${(typeof fn === "function" && fn.name.trim()) || "anonymous"}`
    const rejected = engine.rejection()
    if (rejected !== undefined) return reject(name, resume, rejected, options)
    const checked = FunctionSource.check(fn)
    if (!checked.ok) {
      return reject(
        name,
        resume,
        new PayloadInvalid({ taskName: name, reason: "not-self-contained", detail: checked.detail }),
        options
      )
    }
    const assignment = options?.assignment ?? WorkerAssignment.current()
    let priority = assignment?.priority
    let timeoutMillis = defaultTimeoutMillis
    if (options?.timeout !== undefined || options?.priority !== undefined) {
      const resolved = resolve(options, assignment)
      if (resolved instanceof InvalidConfig) return reject(name, resume, resolved, options)
      priority = resolved.priority
      timeoutMillis = resolved.timeoutMillis
    }
    const payload = each === true ? { source: checked.source, args, each: true } : { source: checked.source, args }
    const call = engine.newCall(fnRouteOf(name), priority ?? 2, payload, timeoutMillis, resume)
    call.assignment = assignment
    call.key = options?.key ?? assignment?.key
    if (options !== undefined) {
      call.taskId = options.taskId
      call.observer = options.observer
    }
    return engine.enqueue(call)
  }

  return { task, fn, known }
}
