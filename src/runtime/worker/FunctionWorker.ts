/**
 * The built-in worker entry of pools created without an `entry`: it serves no task of its own, only the
 * built-in one behind `WorkerPool.offload` that every worker serves. It imports no `effect` module, so its
 * workers boot as fast as bare threads.
 *
 * @since 0.1.0
 */
import type { Group } from "../../domain/WorkerTask.ts"
import { serve } from "./Server.ts"

const nothing: Group<never> = { _tag: "WorkerTaskGroup", tasks: [] }

/** What this entry serves: nothing but `offload`. */
export const served = serve(nothing, {})
