/**
 * How `Producer.enqueueAll` hands a large batch to BullMQ: in chunks of `chunkSize` jobs, one `addBulk`
 * pipeline each, with a turn of the event loop between them, so Redis runs the first chunk's scripts while this
 * process builds the next.
 *
 * One `addBulk` of the whole batch does the two halves one after the other: BullMQ builds every job and its
 * pipeline (about 15–30 µs of this process's CPU per job), ioredis writes it in one piece, and only then does Redis
 * start on it (about 25 µs per prioritised add). In chunks they overlap, and the batch takes about as long as the
 * slower half. Measured here (2-core VM, BullMQ 6.7, Redis 7.0, 20,000 prioritised tiny jobs into a paused queue,
 * 5 rounds taking turns, jobs/s):
 *
 * | one `addBulk` | chunks of 250 | chunks of 1,000 | chunks of 2,500 |
 * |---|---|---|---|
 * | 14.6–21.3 k | 22.8–32.6 k | 19.4–34.1 k | 18.3–31.5 k |
 *
 * 500 sits in the flat part of that curve; smaller chunks add pipelines and turns for nothing. The turn between
 * chunks (`setImmediate`) is what lets ioredis write a chunk before the next is built, and read the replies so far.
 *
 * Semantics are `addBulk`'s: a pipeline, not a transaction, so a connection lost midway leaves the jobs already
 * sent in the queue. The chunks leave in order on one connection, so the jobs keep their order (FIFO within a
 * priority). After a chunk fails no further chunk is sent, and the first failure is the result; the same after an
 * interruption, whose chunks sent so far stay queued.
 *
 * @internal
 */

/** Jobs per pipeline. */
export const chunkSize = 500

/**
 * Adds `jobs` through `add` (BullMQ's `addBulk`), `size` at a time, and resolves with every result in order.
 * Once `signal` is aborted (the caller was interrupted) no further chunk is sent, and it rejects with the
 * signal's reason.
 */
export const addInChunks = async <J, R>(
  jobs: ReadonlyArray<J>,
  add: (chunk: Array<J>) => Promise<Array<R>>,
  options: { readonly size?: number | undefined; readonly signal?: AbortSignal | undefined } = {}
): Promise<Array<R>> => {
  const size = options.size ?? chunkSize
  if (jobs.length <= size) return add(jobs.slice())
  const sent: Array<Promise<Array<R>>> = []
  let failed = false
  for (let start = 0; start < jobs.length && !failed; start += size) {
    options.signal?.throwIfAborted()
    const chunk = add(jobs.slice(start, start + size))
    // Handled now, not at the `Promise.all` below: a chunk that fails during a later turn is not an unhandled
    // rejection, and it stops the chunks after it.
    chunk.catch(() => {
      failed = true
    })
    sent.push(chunk)
    if (start + size < jobs.length) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const results = await Promise.all(sent)
  return results.flat()
}
