/**
 * A worker lowers its own OS scheduling priority at boot (`PoolConfig.niceIncrement`), so that when every core
 * is busy the OS runs the pool's thread (the application's event loop) before the workers. On Linux the nice
 * value belongs to each thread, and `os.setPriority` takes a thread id there: a worker thread reads its own id
 * from procfs and renices itself alone. Elsewhere a thread cannot be reniced apart from its process, so only
 * child-process workers renice (their whole process).
 *
 * No static imports: the bootstraps load this before anything else, and only a worker asked to renice needs
 * `node:fs` and `node:os`.
 *
 * @internal
 */

/** The calling thread's id on Linux (`/proc/thread-self/stat` starts with it); undefined elsewhere. */
export const currentThreadId = (): number | undefined => {
  if (process.platform !== "linux") return undefined
  try {
    const stat = process.getBuiltinModule("node:fs").readFileSync("/proc/thread-self/stat", "latin1")
    const tid = Number.parseInt(stat, 10)
    return Number.isInteger(tid) && tid > 0 ? tid : undefined
  } catch {
    return undefined
  }
}

/** Highest nice value (lowest priority) on Unix systems. */
const lowestPriority = 19

/**
 * Adds `increment` to the nice value of this thread (`"thread"`: Linux only, a no-op elsewhere) or of this
 * whole process (`"process"`). Returns the new nice value, or undefined when nothing changed. Raising a nice
 * value needs no privilege; should the OS refuse anyway, the worker runs at its old priority.
 */
export const lowerPriority = (increment: number, target: "thread" | "process"): number | undefined => {
  if (!(increment > 0)) return undefined
  const id = target === "thread" ? currentThreadId() : 0
  if (id === undefined) return undefined
  try {
    const os = process.getBuiltinModule("node:os")
    const nice = Math.min(lowestPriority, os.getPriority(id) + increment)
    os.setPriority(id, nice)
    return nice
  } catch {
    return undefined
  }
}
