/**
 * The worker-side entry point, `effect-orchestrator/worker`: what a worker entry file needs and nothing more.
 * It pulls in only deep `effect/*` modules, so a worker boots in about half the time the full barrel would take.
 *
 * @example
 * ```ts
 * // worker.ts
 * import * as Effect from "effect/Effect"
 * import { serve } from "effect-orchestrator/worker"
 * import { MathTasks } from "./tasks.ts"
 *
 * export default serve(MathTasks, {
 *   fib: (n) => Effect.sync(() => fib(n)),
 *   sum: (xs) => Effect.sync(() => xs.reduce((a, b) => a + b, 0))
 * })
 * ```
 *
 * @since 0.1.0
 */
export * as WorkerTask from "./domain/WorkerTask.ts"
export { serve } from "./runtime/worker/Server.ts"
export type { Served } from "./runtime/worker/Server.ts"
