/**
 * What both worker bootstraps do before and while they load the user's entry: turn on Node's module compile
 * cache, install the faster resolution of `effect`'s own modules (typed entries only), lower the worker's
 * scheduling priority when asked, and import the entry with a boot slot in place, so that the worker says it
 * is ready only once the whole entry has loaded (see `BootSlot`). The thread and the child-process bootstraps
 * differ only in where their options come from and how they report a failure.
 *
 * Nothing heavy may be imported statically here: it would load before the compile cache is on.
 *
 * @internal
 */
import * as module from "node:module"
import { bootSlotKey } from "../wire/WorkerMarkers.ts"
import type { BootSlot, WorkerBootOptions } from "../wire/WorkerMarkers.ts"
import * as EffectResolution from "./EffectResolution.ts"
import { lowerPriority } from "./SchedulingPriority.ts"

/** Everything that must happen before the entry's first import. */
export const prepare = (options: WorkerBootOptions, kind: "thread" | "process"): void => {
  if (options.compileCache !== false) {
    try {
      module.enableCompileCache?.()
    } catch {
      // an unwritable cache directory only costs speed
    }
  }
  if (options.effectResolution === true) EffectResolution.install()
  // Before the entry loads: its imports already compete with the event loop for a core.
  if (options.niceIncrement !== undefined) lowerPriority(options.niceIncrement, kind)
}

/** Imports the entry, then starts what its `serve` left in the boot slot. Rejects with the entry's own error. */
export const importEntry = async (entry: string): Promise<void> => {
  const slot: BootSlot = { start: undefined, imported: false }
  ;(globalThis as Record<symbol, unknown>)[bootSlotKey] = slot
  await import(entry)
  slot.imported = true
  await slot.start?.()
}
