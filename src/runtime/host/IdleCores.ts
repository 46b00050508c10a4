/**
 * Whether the machine has a core to spare right now, from the share of CPU time the OS spent idle over the
 * last `sampleMillis` or so. The pool asks before it lets a worker hold its next call (see `Dispatch`), and a
 * worker before it spins on the wake-up signal (see `WaitStrategy`): both keep a thread running on purpose,
 * which pays while a core would otherwise idle, and takes a core from the event loop (the pool's own thread,
 * or anything else on the machine) when none does.
 *
 * Linux: `/proc/stat`'s first line (about 70 µs to read on a 2-core VM, so at most once per sample). Elsewhere:
 * `os.cpus()` times (about 0.8 ms a call there, so once a second). Nothing is read until the first question.
 *
 * @internal
 */
import * as os from "node:os"

/** At least this much of one core idle over the last sample counts as a core to spare. */
export const spareCoreShare = 0.5
const sampleMillis = process.platform === "linux" ? 100 : 1_000

/** CPU times of the whole machine so far, in the OS's units, and how many cores they cover. */
export interface Times {
  readonly idle: number
  readonly total: number
  readonly cores: number
}

/** The machine's CPU times so far; undefined when they cannot be read. */
export const readTimes = (): Times | undefined => {
  if (process.platform === "linux") {
    try {
      // Not imported statically: an ESM import of `node:fs` loads `fs/promises` and its streams, at import.
      const stat = process.getBuiltinModule("node:fs").readFileSync("/proc/stat", "latin1")
      const line = stat.slice(0, stat.indexOf("\n")).trim().split(/\s+/)
      // cpu user nice system idle iowait irq softirq steal ...
      let total = 0
      for (let i = 1; i < line.length && i <= 8; i++) total += Number(line[i])
      const cores = stat.match(/^cpu\d/gm)?.length ?? 1
      return { idle: Number(line[4]) + Number(line[5] ?? 0), total, cores }
    } catch {
      return undefined
    }
  }
  let idle = 0
  let total = 0
  const cpus = os.cpus()
  for (const cpu of cpus) {
    const t = cpu.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return total > 0 ? { idle, total, cores: cpus.length } : undefined
}

/** A sampler of the machine's idle cores. */
export class IdleCores {
  private readonly read: () => Times | undefined
  private last: Times | undefined
  private lastAt = Number.NEGATIVE_INFINITY
  private spare = true

  constructor(read: () => Times | undefined = readTimes) {
    this.read = read
  }

  /**
   * Whether at least `spareCoreShare` of a core was idle over the last sample. True until two samples exist,
   * and wherever the times cannot be read (the behaviour of a machine with cores to spare).
   */
  available(now: number = performance.now()): boolean {
    if (now - this.lastAt < sampleMillis) return this.spare
    const times = this.read()
    this.lastAt = now
    if (times === undefined) return this.spare = true
    const last = this.last
    this.last = times
    if (last === undefined) return this.spare
    const total = times.total - last.total
    // No tick passed: keep the last answer.
    if (total <= 0) return this.spare
    this.spare = ((times.idle - last.idle) / total) * times.cores >= spareCoreShare
    return this.spare
  }
}
