/**
 * The BullMQ settings both sides agree on: key prefix, the cancellation channel, job retention and the lock
 * and stalled-check timings that bound how long a dead consumer's jobs stay "active".
 *
 * @internal
 */
import type { Duration } from "effect"
import { Duration as D } from "effect"
import { InvalidConfig } from "../../domain/OrchestratorError.ts"

/** How many finished jobs Redis keeps, and for how long: without a bound it grows forever (BullMQ #1180). */
export interface Retention {
  /** Keep at most this many. */
  readonly count: number
  /** Keep none older than this, in seconds. */
  readonly ageSeconds: number
}

/** Default retention of completed jobs: the last 10,000, for at most one hour. */
export const defaultKeepCompleted: Retention = { count: 10_000, ageSeconds: 3_600 }
/** Default retention of failed jobs: the last 10,000, for at most one day. */
export const defaultKeepFailed: Retention = { count: 10_000, ageSeconds: 86_400 }

/** BullMQ's form of a retention. */
export const keepJobs = (retention: Retention): { readonly count: number; readonly age: number } => ({
  count: retention.count,
  age: retention.ageSeconds
})

/** Default key prefix. For Redis Cluster use a hash tag, e.g. `"{orchestrator}"`, so a queue's keys share a slot. */
export const defaultPrefix = "orchestrator"

/** Why `name` cannot name a queue (BullMQ builds its keys as `<prefix>:<queue>:…`), or undefined when it can. */
export const queueNameError = (name: string): InvalidConfig | undefined =>
  name.length === 0 || name.includes(":")
    ? new InvalidConfig({ field: "queue", value: JSON.stringify(name), detail: "must be non-empty, without ':'" })
    : undefined

/** The Redis pub/sub channel on which producers ask consumers to interrupt a running job. */
export const cancelChannel = (prefix: string, queue: string): string => `${prefix}:${queue}:cancel`
/** The key that marks a job as cancelled, for a consumer that picks the job up after the message was sent. */
export const cancelKey = (prefix: string, queue: string, jobId: string): string =>
  `${prefix}:${queue}:cancelled:${jobId}`
/** How long a cancellation mark lives. */
export const cancelMarkSeconds = 86_400

/**
 * Lock of an active job (ms). A consumer renews it every half of it; once a dead consumer's lock has expired,
 * the next stalled check that finds the job a second time moves it back to waiting. Worst case from the kill to
 * the job waiting again: about `lockDuration + 2 × stalledInterval` (BullMQ's defaults, 30 s and 30 s, give
 * 52–84 s measured); 3 s and 2 s bound it under 10 s.
 */
export const defaultLockDurationMillis = 3_000
/** How often consumers look for stalled jobs (ms). One check per interval runs across all consumers. */
export const defaultStalledIntervalMillis = 2_000
/**
 * How often one job may be found stalled before it fails instead of running again. Each time means the
 * consumer running it died (or its event loop stopped for longer than the lock): a job that kills its consumer
 * fails after this many attempts rather than killing every consumer in turn.
 */
export const defaultMaxStalledCount = 3

/** A positive finite number of milliseconds from a `Duration.Input`, or `InvalidConfig` naming the field. */
export const millisOf = (input: Duration.Input, field: string): number | InvalidConfig => {
  const duration = D.fromInput(input)
  const millis = duration._tag === "None" ? Number.NaN : D.toMillis(duration.value)
  if (!Number.isFinite(millis) || millis < 0) {
    return new InvalidConfig({
      field,
      value: String(input),
      detail: "must be a finite, non-negative duration"
    })
  }
  return millis
}

/** Checks a job id or idempotency key: BullMQ keys may not contain `:` and custom ids may not be integers. */
export const jobIdOf = (idempotencyKey: string): string | InvalidConfig => {
  if (idempotencyKey.length === 0 || idempotencyKey.length > 512) {
    return new InvalidConfig({
      field: "idempotencyKey",
      value: JSON.stringify(idempotencyKey),
      detail: "must be 1 to 512 characters"
    })
  }
  // The prefix keeps it apart from BullMQ's numeric ids; `:` separates BullMQ's key segments.
  return `k-${idempotencyKey.replaceAll("%", "%25").replaceAll(":", "%3A")}`
}
