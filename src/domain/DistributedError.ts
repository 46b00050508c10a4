/**
 * Errors of the distributed queue (`Producer`, `Consumer`): failures that come from Redis or from the data a
 * job carries through it. Like the rest of the catalogue they are Schemas, so a consumer's failure reaches the
 * producer as the same class with its fields.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedError } from "effect-orchestrator"
 *
 * const program = Effect.fail(new DistributedError.RedisUnavailable({ host: "10.0.0.5", port: 6379, detail: "ECONNREFUSED" }))
 * program.pipe(Effect.catchTag("RedisUnavailable", (e) => Effect.succeed(`no Redis at ${e.host}:${e.port}`)))
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Redis could not be reached: at layer build (within the connect timeout), or mid-run with `whenDisconnected: "fail"`. */
export class RedisUnavailable extends Schema.TaggedError<RedisUnavailable>()("RedisUnavailable", {
  host: Schema.String,
  port: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return `Redis at ${this.host}:${this.port} is unavailable: ${this.detail}`
  }
}

/**
 * A job's data did not decode on the consumer: it was written by an incompatible version, or by something
 * other than a `Producer`. The job fails at once (no retry); nothing in it is run.
 */
export class JobDataInvalid extends Schema.TaggedError<JobDataInvalid>()("JobDataInvalid", {
  jobId: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `job ${this.jobId} carries data that does not decode: ${this.detail}`
  }
}

/** A job is no longer in Redis (removed by hand, trimmed, or lost with Redis' data) before its result was read. */
export class JobLost extends Schema.TaggedError<JobLost>()("JobLost", {
  jobId: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `job ${this.jobId} is gone from Redis: ${this.detail}`
  }
}

/** Any distributed-queue error. */
export type DistributedError = RedisUnavailable | JobDataInvalid | JobLost

/** Schema of any distributed-queue error. */
export const DistributedError = Schema.Union([RedisUnavailable, JobDataInvalid, JobLost])
