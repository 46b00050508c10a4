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
  /** Turn on Node's module compile cache before importing the entry (default true). */
  readonly compileCache?: boolean
  /** Resolve `effect`'s own imports with the bootstrap's faster hook (`EffectResolution`); entries with typed tasks. */
  readonly effectResolution?: boolean
  /** Added to the worker's OS scheduling priority (nice value) at boot; see `PoolConfig.niceIncrement`. */
  readonly niceIncrement?: number
  /**
   * Threads: cell `SIGNAL_SENT` is a counter the pool bumps after each send, for low-latency wake-ups; cell
   * `SIGNAL_SKIP` names a call the worker must not start (see `skipKey`).
   */
  readonly signal?: Int32Array
}

/** The cells of `WorkerBootOptions.signal`. */
export const SIGNAL_SENT = 0
export const SIGNAL_SKIP = 1
export const SIGNAL_CELLS = 2

/**
 * What the pool stores in cell `SIGNAL_SKIP` to cancel call `id` before it starts: the id modulo 2^31 - 1
 * (ids that collide are billions of calls apart, and only the call about to start is compared).
 */
export const skipKey = (id: number): number => id % 0x7fff_ffff
