/**
 * Processing of large inputs in batches: items are cut into chunks, chunks run with bounded concurrency, and
 * progress (done/total, items per second) is reported while it runs. Whoever processes a chunk decides where
 * it runs; for worker tasks a whole chunk travels in one message, so messaging costs per chunk, not per item.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batch } from "effect-orchestrator"
 *
 * const doubled = Batch.run(
 *   Array.from({ length: 10_000 }, (_, i) => i),
 *   (chunk) => Effect.succeed(chunk.map((x) => x * 2)),
 *   { batchSize: 1_000, concurrency: 4, onProgress: (p) => Effect.log(`${p.done}/${p.total}`) }
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema, Stream } from "effect"
import { parallelism } from "../../domain/Config.ts"
import type { InvalidConfig } from "../../domain/OrchestratorError.ts"
import { decodeConfigExit } from "../config/ConfigValidation.ts"

/** A snapshot of a batch run. */
export interface BatchProgress {
  /** Items whose chunk has finished. */
  readonly done: number
  /** Items in the input, when known up front (arrays); `undefined` for iterables and streams. */
  readonly total: number | undefined
  /** Chunks finished. */
  readonly chunks: number
  readonly elapsedMillis: number
  /** `done` per second of elapsed time; 0 until time has passed. */
  readonly itemsPerSecond: number
}

/** Options of a batch run. */
export interface BatchOptions {
  /** Items per chunk. Default 1,000. */
  readonly batchSize?: number
  /** Chunks in flight at once. Default: the number of cores. */
  readonly concurrency?: number
  /** Called after every finished chunk, in completion order. */
  readonly onProgress?: (progress: BatchProgress) => Effect.Effect<void>
}

/** What a batch run accepts. */
export type BatchInput<A, E = never, R = never> = ReadonlyArray<A> | Iterable<A> | Stream.Stream<A, E, R>

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** Schema of the numeric batch options. */
export const BatchConfig = Schema.Struct({
  batchSize: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1_000))),
  concurrency: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(parallelism)))
})

const validate = decodeConfigExit(BatchConfig, "batch")

const pickNumbers = (options: BatchOptions | undefined) => {
  const out: Record<string, unknown> = {}
  if (options?.batchSize !== undefined) out.batchSize = options.batchSize
  if (options?.concurrency !== undefined) out.concurrency = options.concurrency
  return out
}

const isStream = (u: unknown): u is Stream.Stream<unknown, unknown, unknown> => Stream.isStream(u)

const makeTracker = (total: number | undefined, onProgress: BatchOptions["onProgress"]) =>
  Effect.map(Clock.currentTimeMillis, (start) => {
    let done = 0
    let chunks = 0
    return (size: number): Effect.Effect<void> => {
      done += size
      chunks += 1
      if (onProgress === undefined) return Effect.void
      const snapshotDone = done
      const snapshotChunks = chunks
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const elapsedMillis = now - start
        return onProgress({
          done: snapshotDone,
          total,
          chunks: snapshotChunks,
          elapsedMillis,
          itemsPerSecond: elapsedMillis > 0 ? (snapshotDone * 1000) / elapsedMillis : 0
        })
      })
    }
  })

/**
 * Processes `input` chunk by chunk and emits the results in input order, as a stream. Use it when the output
 * is too large to collect. `process` must return one result per item of its chunk.
 */
export const stream = <A, B, E, R, E2 = never, R2 = never>(
  input: BatchInput<A, E2, R2>,
  process: (chunk: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E, R>,
  options?: BatchOptions
): Stream.Stream<B, E | E2 | InvalidConfig, R | R2> =>
  Stream.unwrap(Effect.gen(function*() {
    const config = yield* validate(pickNumbers(options))
    const total = Array.isArray(input) ? input.length : undefined
    const tick = yield* makeTracker(total, options?.onProgress)
    const chunks: Stream.Stream<ReadonlyArray<A>, E2, R2> = isStream(input)
      ? Stream.grouped(input as Stream.Stream<A, E2, R2>, config.batchSize)
      : Stream.fromIterable(chunksOf(input as Iterable<A>, config.batchSize))
    return chunks.pipe(
      Stream.mapEffect((chunk) => Effect.tap(process(chunk), () => tick(chunk.length)), {
        concurrency: config.concurrency
      }),
      Stream.flattenIterable
    )
  }))

/**
 * Processes `input` chunk by chunk with bounded concurrency and collects the results in input order.
 * The first failing chunk fails the run and interrupts the chunks still in flight.
 */
export const run = <A, B, E, R, E2 = never, R2 = never>(
  input: BatchInput<A, E2, R2>,
  process: (chunk: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E, R>,
  options?: BatchOptions
): Effect.Effect<Array<B>, E | E2 | InvalidConfig, R | R2> => {
  if (!Array.isArray(input)) return Stream.runCollect(stream(input, process, options))
  // Arrays are sliced directly: a million items should not pay for a stream element each.
  const array = input as ReadonlyArray<A>
  return Effect.gen(function*() {
    const config = yield* validate(pickNumbers(options))
    const tick = yield* makeTracker(array.length, options?.onProgress)
    const count = Math.ceil(array.length / config.batchSize)
    const results = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => {
        const chunk = array.slice(i * config.batchSize, (i + 1) * config.batchSize)
        return Effect.tap(process(chunk), () => tick(chunk.length))
      },
      { concurrency: config.concurrency }
    )
    const out: Array<B> = []
    for (const part of results) for (const b of part) out.push(b)
    return out
  })
}

function* chunksOf<A>(input: Iterable<A>, size: number): Generator<ReadonlyArray<A>> {
  let chunk: Array<A> = []
  for (const a of input) {
    chunk.push(a)
    if (chunk.length === size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}
