// Shared bits of the pool specs.
import { Effect, Schedule } from "effect"
import * as fs from "node:fs"

export const fixture = (file: string): URL => new URL(`./fixtures/${file}`, import.meta.url)

/** The worker entry serving `Tasks` with `handlers`. */
export const workerEntry = fixture("worker.ts")

/**
 * Names of this process's OS threads that start with `prefix` (Node names a worker thread after its `name`
 * option, cut to 15 characters). Linux only: elsewhere it returns undefined and callers skip the check.
 */
export const threadsNamed = (prefix: string): ReadonlyArray<string> | undefined => {
  if (!fs.existsSync("/proc/self/task")) return undefined
  const names: Array<string> = []
  for (const task of fs.readdirSync("/proc/self/task")) {
    try {
      const name = fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim()
      if (name.startsWith(prefix)) names.push(name)
    } catch {
      // the thread ended while we looked
    }
  }
  return names
}

/** Whether a process is alive. */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls `check` every 10 ms until it holds; the spec's own timeout bounds the wait. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>): Effect.Effect<void, E, R> =>
  Effect.asVoid(Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("10 millis") }))

/**
 * Runs a call a few times, so that the pool learns the task is light: the pool only queues calls behind
 * others in a worker once it knows they take little CPU (and the first calls of a task are slow, cold code).
 */
export const teach = <A, E, R>(call: Effect.Effect<A, E, R>): Effect.Effect<void, E, R> =>
  Effect.asVoid(Effect.repeat(call, { times: 4 }))
