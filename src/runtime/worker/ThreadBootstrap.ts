/**
 * Entry of a worker thread: turns on Node's module compile cache (so the second and later workers, and later
 * runs, skip compiling `effect` and the user's modules: boot time roughly halves), installs the faster
 * resolution of `effect`'s own modules (typed entries), then imports the user's entry. The pool also turns the
 * cache on through `NODE_COMPILE_CACHE` in the thread's environment, so that this file and a TypeScript entry
 * come from the cache without loading Node's TypeScript stripper (about 18 ms a thread). An import failure rejects the top-level await, which the pool receives as the thread's `error` event
 * with the error itself.
 *
 * Nothing heavy may be imported statically here: it would load before the cache is on.
 *
 * @internal
 */
import { workerData } from "node:worker_threads"
import { workerDataKey } from "../wire/WorkerMarkers.ts"
import type { WorkerBootOptions } from "../wire/WorkerMarkers.ts"
import { importEntry, prepare } from "./Boot.ts"

const options = (workerData as Record<string, WorkerBootOptions | undefined> | null)?.[workerDataKey] ?? {}
prepare(options, "thread")
if (options.entry === undefined) throw new Error("no worker entry given to the thread bootstrap")
await importEntry(options.entry)
