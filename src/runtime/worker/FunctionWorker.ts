/**
 * The built-in worker entry of pools created without an `entry`: it serves no task of its own, only the
 * built-in one behind `WorkerPool.offload` that every worker serves. It imports no `effect` module, so its
 * workers boot as fast as bare threads.
 *
 * @since 0.1.0
 */
import { offloadOnly, serve } from "./Server.ts"

/**
 * What this entry serves: nothing but `offload`. It is a worker entry: importing it serves. Nothing else may
 * import it (the library's modules use `offloadOnly`), as no module may act when imported.
 */
export const served = serve(offloadOnly.group, {})
