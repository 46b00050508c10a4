/**
 * BullMQ and ioredis, loaded when a distributed layer is built rather than when the library is imported:
 * programs that never scale out do not pay for loading them (about 0.5 s of CPU on a small machine).
 *
 * @internal
 */
import { Effect } from "effect"

/** The `bullmq` module. */
export const bullmq: Effect.Effect<typeof import("bullmq")> = Effect.promise(() => import("bullmq"))

/** The `ioredis` module. */
export const ioredis: Effect.Effect<{ readonly Redis: typeof import("ioredis").Redis }> = Effect.promise(() =>
  import("ioredis")
)
