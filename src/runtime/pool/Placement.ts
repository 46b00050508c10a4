/**
 * Where a call goes: which worker gets it now, or none (it waits in the pool's queue). Pure functions of the
 * workers' state, so the rules can be read, and tested, apart from the dispatcher's lifecycles.
 *
 * The rules, in order:
 * 1. an idle ready worker, if there is one;
 * 2. else, only when the pool cannot grow (no worker booting, `maxWorkers` reached), the busy worker with the
 *    least estimated work in flight, if the call fits its pipeline: fewer than `concurrentTasksPerWorker` calls
 *    ({@link depthFor}: `pipelineDepth` for a task known to complete synchronously), at most
 *    {@link pipelineBytes} of moved buffers, and at most {@link pipelineBudgetMillis} of estimated
 *    synchronous work, unless the call may wait behind the one running ({@link canWait}).
 *
 * A new worker runs calls in parallel, while a call queued behind others in a worker waits for them: that is
 * why a pool that can still grow pipelines nothing.
 *
 * @internal
 */
import type { PoolConfig } from "../../domain/Config.ts"
import type { Call, Slot } from "./Call.ts"
import { BOOTING, READY } from "./Call.ts"

/**
 * How much synchronous work (ms, as measured by the workers) may wait in a busy worker: calls are pipelined
 * into a worker only while the estimated work of its calls in flight stays under this. Tiny calls pipeline up
 * to `concurrentTasksPerWorker`, a 0.5 ms call about eight deep, and a call this long or longer (CPU-bound)
 * goes to an idle worker, so a burst of heavy calls is spread over the workers rather than queued behind one
 * another. At the end of a burst, workers finish at most this far apart; in exchange, pipelined calls do not
 * wait a round trip each.
 *
 * One exception keeps workers busy while the pool's thread is: a worker running one CPU-bound call may get the
 * next one to wait behind it (`Slot.waiting`) when it is no longer than about the one running and enough
 * calls stay queued for the other workers. The worker then starts it as soon as it is done, instead of idling
 * until this thread gets round to its answer (measured: one worker, 16 × fib(30), the main thread busy in 2 ms
 * slices: 115-143 ms before, 90-98 ms with; 97-106 and 95-102 ms with an idle main thread). A waiting call's
 * timeout and cancellation grace period start when it starts; cancelled before that, the worker skips it
 * (`Transport.skip`: a cell of shared memory it checks before each call). Only thread workers can be told
 * so, so only they get waiting calls.
 */
export const pipelineBudgetMillis = 4

/** A CPU-bound call waits in a busy worker only behind a call estimated at most this many times as long. */
export const waitBehindFactor = 1.5

/**
 * How many bytes of moved buffers (transfer lists) may wait in a busy worker: a call whose buffers would take
 * its worker above this waits for an idle worker instead. Buffers moved into a thread count as V8 external
 * memory, and past about 64 MB of it since the last collection V8 collects the whole heap; a quarter of that
 * keeps pipelined binary calls clear of it (measured, 200 × 1 MiB arrays with `releasePayload`: 16 in flight
 * per worker took 24 ms of CPU a run, about 57 in flight 40 ms).
 */
export const pipelineBytes = 16 * 1024 * 1024

/**
 * How many calls of a task may be in flight in one busy worker: `concurrentTasksPerWorker`, or, for a task
 * whose calls complete without suspending (`TaskStats.synchronous`), `pipelineDepth` when that is more; `pick`
 * allows that only on a worker with a start log (`Transport.taken`). Such calls run one after another in the worker, so the deeper
 * pipe adds no handler running at once; and a call that had not started when its worker died is sent again,
 * which the start log is what tells, so it adds nothing a crash fails either. Measured (20 k tiny typed calls
 * through `offload`, 2 workers, 16 against 64 taking turns in one process, 2-core VM at load 3-4): 1.25-1.55×
 * the calls per second, and the process's CPU per call (main thread and workers) 8.3-10.8 → 6.5-7.9 µs, from
 * a quarter of the messages and wake-ups. A call that may suspend needs a `concurrentTasksPerWorker` place,
 * since several of those do run at once.
 */
export const depthFor = (call: Call, config: PoolConfig): number =>
  call.stats.synchronous ? deepest(config) : config.concurrentTasksPerWorker

/** The most calls a pool may have in flight on one worker: its pipe at its deepest (see {@link depthFor}). */
export const deepest = (config: PoolConfig): number => Math.max(config.concurrentTasksPerWorker, config.pipelineDepth)

/**
 * The worker for `call`, or undefined when it should wait in the queue. `queued` counts the calls waiting in
 * the pool's queue, this one included; `canGrow` says whether the pool may still start workers (not broken, not
 * closed).
 */
export const pick = (
  slots: ReadonlyArray<Slot>,
  call: Call,
  queued: number,
  config: PoolConfig,
  canGrow: boolean,
  idleCores: SpareCores
): Slot | undefined => {
  const estimate = call.stats.cpuMillis
  const cap = config.concurrentTasksPerWorker
  const depth = depthFor(call, config)
  let best: Slot | undefined
  let live = 0
  let booting = false
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!
    if (slot.state === BOOTING) {
      booting = true
      live++
      continue
    }
    if (slot.state !== READY) continue
    if (slot.inFlight.size === 0) return slot
    live++
    if (
      slot.inFlight.size < (slot.transport?.taken === undefined ? cap : depth) &&
      slot.pendingBytes + call.bytes <= pipelineBytes &&
      (best === undefined || slot.pendingCpu < best.pendingCpu ||
        (slot.pendingCpu === best.pendingCpu && slot.inFlight.size < best.inFlight.size))
    ) best = slot
  }
  if (best === undefined || estimate === undefined) return undefined
  if (
    best.pendingCpu + estimate > pipelineBudgetMillis && !canWait(best, call, estimate, queued, live, config, idleCores)
  ) {
    return undefined
  }
  if (booting || (live < config.maxWorkers && canGrow)) return undefined
  return best
}

/** Whether the machine has a core to spare right now (see `host/IdleCores.ts`). */
export interface SpareCores {
  readonly available: () => boolean
}

/**
 * Whether CPU-bound `call` may wait in busy worker `slot` behind its one call (see {@link pipelineBudgetMillis}):
 * not behind a much longer call, not when the other `live - 1` workers would run out of queued calls first,
 * not with moved buffers (a call that never started is sent again after a crash), not when cancelling
 * it would terminate the worker (a grace period of 0), and only while the machine has a core to spare: a
 * worker that goes on at once keeps its core, which pays while this thread is busy on a core of its own,
 * and takes the core this thread's event loop needs when every core is busy (measured in the http bench).
 */
export const canWait = (
  slot: Slot,
  call: Call,
  estimate: number,
  queued: number,
  live: number,
  config: PoolConfig,
  idleCores: SpareCores
): boolean =>
  slot.waiting === undefined && slot.inFlight.size === 1 && slot.pendingCpu <= waitBehindFactor * estimate &&
  call.bytes === 0 && queued >= live && config.terminationGrace > 0 && slot.transport?.skip !== undefined &&
  idleCores.available()
