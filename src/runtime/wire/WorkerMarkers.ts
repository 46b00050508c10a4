/**
 * The few constants the worker bootstraps need, in a module without imports: a bootstrap must turn on the
 * compile cache before it loads anything heavy.
 *
 * @internal
 */

/** Key in `workerData` (threads) that marks a thread as a pool worker and carries its options. */
export const workerDataKey = "__effectOrchestratorWorker"

/** Environment variable that marks a child process as a pool worker; its value is the JSON of the options. */
export const workerEnvKey = "EFFECT_ORCHESTRATOR_WORKER"

/** Global slot set by the child-process bootstrap: the options of this process as a pool worker. */
export const processOptionsKey: symbol = Symbol.for("effect-orchestrator/worker-process")

/**
 * Worker-to-main record: the worker is about to die (id is 0); value is the error. Sent alone, by the
 * child-process bootstrap (threads report it through their `error` event).
 */
export const OP_FATAL = 7

/** Options the pool gives each worker at spawn. */
export interface WorkerBootOptions {
  /** The entry module to import (a file: URL), when the worker starts from a bootstrap. */
  readonly entry?: string
  /** Report the used heap at most this often (ms); absent means never. */
  readonly heapReportMillis?: number
  /**
   * Answers a worker holds at most before it posts them, in the middle of a batch too: a crash loses the
   * answers not yet posted (those calls fail, never run again), so this bounds what a crash costs the calls
   * that had completed before it. The pool's `concurrentTasksPerWorker`; absent means no bound but time.
   */
  readonly answerBatch?: number
  /** Turn on Node's module compile cache before importing the entry (default true). */
  readonly compileCache?: boolean
  /** Resolve `effect`'s own imports with the bootstrap's faster hook (`EffectResolution`); entries with typed tasks. */
  readonly effectResolution?: boolean
  /** Added to the worker's OS scheduling priority (nice value) at boot; see `PoolConfig.niceIncrement`. */
  readonly niceIncrement?: number
  /**
   * Threads: cell `SIGNAL_SENT` is a counter the pool bumps after each send, for low-latency wake-ups; cell
   * `SIGNAL_SKIP` names a call the worker must not start (see `skipKey`); cell `SIGNAL_TAKEN` is the worker's
   * start log (see `SIGNAL_TAKEN`).
   */
  readonly signal?: Int32Array
  /**
   * Child processes, which share no memory with the pool: a file of 4 bytes that holds the same count as cell
   * `SIGNAL_TAKEN` (a little-endian int32), written before each call starts. The pool reads it once the
   * process has exited.
   */
  readonly takenFile?: string
}

/** The cells of `WorkerBootOptions.signal`. */
export const SIGNAL_SENT = 0
export const SIGNAL_SKIP = 1
/**
 * The worker's start log: how many run records it has taken up so far (started, skipped or rejected), as an
 * int32 that wraps. The worker writes it before it starts each call; records are taken up in the order they
 * were sent, so the pool, which numbers its run records to each worker the same way, reads at the crash (or
 * once a terminated worker has exited) which of its calls never started: those are sent to another worker,
 * the others are never sent again.
 */
export const SIGNAL_TAKEN = 2
export const SIGNAL_CELLS = 3

/**
 * Global slot the bootstraps set while they import the entry: `serve` leaves its start there, and the bootstrap
 * runs it once the entry has loaded. So a worker announces itself ready only after its whole entry ran, and an
 * entry that fails after its `serve` (a second `serve`, say) fails the boot instead of a ready worker.
 */
export const bootSlotKey: symbol = Symbol.for("effect-orchestrator/boot-slot")

/** Global flag: this worker serves a group already (one `serve` per worker, whichever copy of the module). */
export const servedKey: symbol = Symbol.for("effect-orchestrator/served")

/** What a bootstrap leaves in the global `bootSlotKey` slot. */
export interface BootSlot {
  /** Set by `serve` during the import: attaches the server and posts the ready message. */
  start: (() => void | Promise<void>) | undefined
  /** Whether the import has finished: a later `serve` starts at once. */
  imported: boolean
}

/**
 * What the pool stores in cell `SIGNAL_SKIP` to cancel call `id` before it starts: the id modulo 2^31 - 1
 * (ids that collide are billions of calls apart, and only the call about to start is compared).
 */
export const skipKey = (id: number): number => id % 0x7fff_ffff
