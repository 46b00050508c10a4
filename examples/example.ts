// What an example is, and the orchestrator every example runs on.
import type { Effect } from "effect"
import { Config, Orchestrator } from "effect-orchestrator"

/** Options every example takes: `small` shrinks the inputs (for the tour and the test suite). */
export interface Options {
  readonly small: boolean
}

/** One runnable example. */
export interface Example {
  /** The name on the command line: `npm run example -- NAME`. */
  readonly name: string
  /** One line saying what it shows. */
  readonly summary: string
  readonly program: (options: Options) => Effect.Effect<void, unknown, Orchestrator.Orchestrator>
}

/** Workers of the cpu pool: one per core, and at least two so that parallelism is visible on any machine. */
export const workers = Math.max(2, Config.parallelism)

/** Threads of the blocking lane. */
export const blockingThreads = 2

/**
 * The orchestrator of the examples: a cpu pool whose workers serve the typed tasks of `workers/tasks.ts`.
 * All workers start with the layer (`minWorkers`), so timings measure the work and not worker boots. One cpu
 * task per worker at a time (`cpuPermits`): the others wait in the cpu lane, where priorities decide the order.
 */
export const layer = Orchestrator.layer({
  entry: new URL("./workers/worker.ts", import.meta.url),
  pool: { minWorkers: workers, maxWorkers: workers },
  cpuPermits: workers,
  blocking: { threads: blockingThreads },
  background: { consumers: 4 }
})
