/**
 * BullMQ and ioredis, loaded when a distributed layer is built rather than when the library is imported:
 * programs that never scale out do not pay for loading them (about 0.5 s of CPU on a small machine).
 *
 * @internal
 */
import type * as BullMQ from "bullmq"
import { Effect } from "effect"
import type { Redis } from "ioredis"

/** The `bullmq` module. */
export const bullmq: Effect.Effect<typeof BullMQ> = Effect.promise(() => import("bullmq"))

/** The `ioredis` module's client class. */
export const ioredis: Effect.Effect<{ readonly Redis: typeof Redis }> = Effect.promise(() => import("ioredis"))
