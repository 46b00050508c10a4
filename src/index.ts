/**
 * effect-orchestrator: run heavy and numerous tasks in parallel from Effect programs without blocking the
 * event loop.
 *
 * @since 0.1.0
 */

// Domain: data, schemas and errors
export * as CircuitPolicy from "./domain/CircuitPolicy.ts"
export * as Config from "./domain/Config.ts"
export * as DurationInput from "./domain/DurationInput.ts"
export * as OrchestratorError from "./domain/OrchestratorError.ts"
export {
  CircuitOpen,
  InvalidConfig,
  PayloadInvalid,
  PoolShutDown,
  QueueFull,
  TaskCancelled,
  TaskTimeout,
  UnknownTask,
  WorkerBootFailed,
  WorkerCrashed
} from "./domain/OrchestratorError.ts"
export * as RetryPolicy from "./domain/RetryPolicy.ts"
export * as Task from "./domain/Task.ts"
export * as TaskKind from "./domain/TaskKind.ts"
export * as TaskPriority from "./domain/TaskPriority.ts"
export * as TaskResult from "./domain/TaskResult.ts"
export * as WorkerTask from "./domain/WorkerTask.ts"

// Mechanisms whose values and types users compose (the rest of src/runtime stays private)
export * as BackgroundQueue from "./runtime/orchestrator/BackgroundQueue.ts"
export * as Batch from "./runtime/orchestrator/Batch.ts"
export * as TaskMetrics from "./runtime/orchestrator/TaskMetrics.ts"
export * as Fallback from "./runtime/resilience/Fallback.ts"
export * as Retry from "./runtime/resilience/Retry.ts"

// Services and their layers
export * as CircuitBreakers from "./layers/CircuitBreakers.ts"
export * as Orchestrator from "./layers/Orchestrator.ts"
export * as Resilience from "./layers/Resilience.ts"
export * as Scheduler from "./layers/Scheduler.ts"
export * as WorkerPool from "./layers/WorkerPool.ts"

// Worker side (also available alone as `effect-orchestrator/worker`, which boots faster in workers)
export { serve } from "./runtime/worker/Server.ts"

// Scale-out: the same typed tasks across processes and machines, on BullMQ and Redis
export * as DistributedError from "./domain/DistributedError.ts"
export { JobDataInvalid, JobLost, RedisUnavailable } from "./domain/DistributedError.ts"
export * as Consumer from "./layers/Consumer.ts"
export * as Producer from "./layers/Producer.ts"
