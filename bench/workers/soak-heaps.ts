// The soak's heap probe, shared by `bench/soak-heaps.ts` and its worker entries: the calling thread's V8 heap, in MB.
import * as v8 from "node:v8"
import { threadId } from "node:worker_threads"

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20 * 10) / 10

export interface Heap {
  readonly threadId: number
  readonly totalMb: number
  readonly usedMb: number
  readonly spacesMb: Record<string, number>
}

/** After a full GC when the thread has `gc` (`--expose-gc`); `spinMillis` keeps the thread busy so probes spread. */
export const heap = (spinMillis = 0): Heap => {
  const end = Date.now() + spinMillis
  while (Date.now() < end) {
    // busy: the next probe goes to another worker
  }
  ;(globalThis as { gc?: () => void }).gc?.()
  const stats = v8.getHeapStatistics()
  return {
    threadId,
    totalMb: mb(stats.total_heap_size),
    usedMb: mb(stats.used_heap_size),
    spacesMb: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)]))
  }
}
