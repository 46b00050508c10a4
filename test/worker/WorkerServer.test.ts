// The worker side of the protocol (`makeServer`) on an in-memory channel: when answers leave the worker.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import {
  OP_INTERRUPTED,
  OP_READY,
  OP_RUN,
  OP_SUCCESS,
  SIGNAL_CELLS,
  SIGNAL_SKIP,
  SIGNAL_TAKEN,
  skipKey,
  TO_MAIN_WIDTH
} from "../../src/runtime/wire/Protocol.ts"
import { codecFor } from "../../src/runtime/wire/WireCodec.ts"
import { makeServer } from "../../src/runtime/worker/Server.ts"

const Busy = WorkerTask.make("busy", { payload: Schema.Number, success: Schema.Number })
const Group = WorkerTask.group(Busy)

/** Blocks the thread for `millis`, like a CPU-bound handler. */
const busyFor = (millis: number): number => {
  const until = performance.now() + millis
  let spins = 0
  while (performance.now() < until) spins++
  return spins
}

const serverWithPosts = (signal?: Int32Array) => {
  const posts: Array<ReadonlyArray<unknown>> = []
  const server = makeServer(
    Group,
    { busy: (millis: number) => Effect.sync(() => (busyFor(millis), millis)) },
    { post: (batch) => posts.push(batch), canTransfer: false },
    signal === undefined ? {} : { signal },
    { runFork: Effect.runFork, isExit: Exit.isExit, codecFor }
  )
  posts.splice(0) // the ready message
  return { server, posts }
}

/** The ids answered with a success, message by message. */
const answeredIds = (posts: ReadonlyArray<ReadonlyArray<unknown>>): Array<Array<number>> =>
  posts.map((batch) => {
    const ids: Array<number> = []
    for (let i = 0; i < batch.length; i += TO_MAIN_WIDTH) {
      if (batch[i] === OP_SUCCESS) ids.push(batch[i + 1] as number)
    }
    return ids
  })

describe("WorkerRuntime server", () => {
  it("announces its task names when it starts", () => {
    const posts: Array<ReadonlyArray<unknown>> = []
    makeServer(
      Group,
      { busy: (n: number) => Effect.succeed(n) },
      { post: (batch) => posts.push(batch), canTransfer: false },
      {},
      {
        runFork: Effect.runFork,
        isExit: Exit.isExit,
        codecFor
      }
    )
    assert.strictEqual(posts[0]![0], OP_READY)
  })

  it("answers of a long batch leave while the rest of it runs, not all at its end", () => {
    const { posts, server } = serverWithPosts()
    // Four calls of 0.4 ms in one message: each one past answerFlushMillis (0.25 ms) sends what is ready.
    server.handle([OP_RUN, 1, 0, 0.4, OP_RUN, 2, 0, 0.4, OP_RUN, 3, 0, 0.4, OP_RUN, 4, 0, 0.4])
    server.flush()
    assert.deepStrictEqual(answeredIds(posts), [[1], [2], [3], [4]])
  })

  it("answers of tiny calls in one message leave together", () => {
    const { posts, server } = serverWithPosts()
    const batch: Array<unknown> = []
    for (let id = 1; id <= 100; id++) batch.push(OP_RUN, id, 0, 0)
    server.handle(batch)
    server.flush()
    // One message when nothing preempts this thread; a few at worst on a loaded machine, never one per call.
    assert.isAtMost(posts.length, 10)
    assert.deepStrictEqual(answeredIds(posts).flat(), Array.from({ length: 100 }, (_, i) => i + 1))
  })

  it("does not start a call the pool told it to skip (one that waited behind a running call), and says so", async () => {
    const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_CELLS * 4))
    const { posts, server } = serverWithPosts(signal)
    Atomics.store(signal, SIGNAL_SKIP, skipKey(2))
    server.handle([OP_RUN, 1, 0, 1, OP_RUN, 2, 0, 1, OP_RUN, 3, 0, 1])
    await new Promise((resolve) => setImmediate(resolve))
    const answers = posts.flat()
    const byId = new Map<number, unknown>()
    for (let i = 0; i < answers.length; i += TO_MAIN_WIDTH) byId.set(answers[i + 1] as number, answers[i])
    assert.deepStrictEqual([byId.get(1), byId.get(2), byId.get(3)], [OP_SUCCESS, OP_INTERRUPTED, OP_SUCCESS])
  })

  it("writes its start log before each call starts: the count of run records taken up", () => {
    const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_CELLS * 4))
    const seen: Array<number> = []
    const posts: Array<ReadonlyArray<unknown>> = []
    const server = makeServer(
      Group,
      { busy: (n: number) => Effect.sync(() => (seen.push(Atomics.load(signal, SIGNAL_TAKEN)), n)) },
      { post: (batch) => posts.push(batch), canTransfer: false },
      { signal },
      { runFork: Effect.runFork, isExit: Exit.isExit, codecFor }
    )
    Atomics.store(signal, SIGNAL_SKIP, skipKey(2))
    server.handle([OP_RUN, 1, 0, 0, OP_RUN, 2, 0, 0, OP_RUN, 3, 0, 0])
    server.handle([OP_RUN, 4, 7, 0]) // an index it does not serve: rejected, but taken up all the same
    assert.deepStrictEqual(seen, [1, 3], "each call sees itself counted; the skipped one counts too")
    assert.strictEqual(Atomics.load(signal, SIGNAL_TAKEN), 4)
  })

  it("posts the answers it has before the first call of a task it has not run yet (the usual suspect of a crash)", () => {
    const Other = WorkerTask.make("other", { payload: Schema.Number, success: Schema.Number })
    const posts: Array<ReadonlyArray<unknown>> = []
    let postedBeforeOther = -1
    const server = makeServer(
      WorkerTask.group(Busy, Other),
      {
        busy: (n: number) => Effect.succeed(n),
        other: (n: number) => Effect.sync(() => (postedBeforeOther = answeredIds(posts).flat().length, n))
      },
      { post: (batch) => posts.push(batch), canTransfer: false },
      {},
      { runFork: Effect.runFork, isExit: Exit.isExit, codecFor }
    )
    posts.splice(0)
    server.handle([OP_RUN, 1, 0, 0, OP_RUN, 2, 0, 0, OP_RUN, 3, 1, 0, OP_RUN, 4, 0, 0, OP_RUN, 5, 1, 0])
    server.flush()
    assert.strictEqual(postedBeforeOther, 2, "the answers of calls 1 and 2 left before call 3 started")
    assert.deepStrictEqual(answeredIds(posts).flat(), [1, 2, 3, 4, 5])
    assert.strictEqual(posts.length, 2, "a task already run does not flush again")
  })
  it("holds at most answerBatch answers: a crash mid-batch costs at most that many completed calls", () => {
    const posts: Array<ReadonlyArray<unknown>> = []
    const server = makeServer(
      Group,
      { busy: (n: number) => Effect.succeed(n) },
      { post: (batch) => posts.push(batch), canTransfer: false },
      { answerBatch: 16 },
      { runFork: Effect.runFork, isExit: Exit.isExit, codecFor }
    )
    posts.splice(0)
    const batch: Array<unknown> = []
    for (let id = 1; id <= 64; id++) batch.push(OP_RUN, id, 0, 0)
    server.handle(batch)
    server.flush()
    const sizes = answeredIds(posts).map((ids) => ids.length)
    assert.isAtLeast(sizes.length, 4, "64 answers in messages of at most 16")
    for (const size of sizes) assert.isAtMost(size, 16)
    assert.deepStrictEqual(answeredIds(posts).flat(), Array.from({ length: 64 }, (_, i) => i + 1))
  })

  it("an answer says whether its handler suspended: its cpu is negated then, never for one that completed at once", async () => {
    const Wait = WorkerTask.make("wait", { payload: Schema.Number, success: Schema.Number })
    const posts: Array<ReadonlyArray<unknown>> = []
    const server = makeServer(
      WorkerTask.group(Busy, Wait),
      {
        busy: (n: number) => Effect.sync(() => n),
        wait: (millis: number) => Effect.as(Effect.sleep(millis), millis)
      },
      { post: (batch) => posts.push(batch), canTransfer: false },
      {},
      { runFork: Effect.runFork, isExit: Exit.isExit, codecFor }
    )
    posts.splice(0)
    server.handle([OP_RUN, 1, 0, 1, OP_RUN, 2, 1, 0, OP_RUN, 3, 1, 5, OP_RUN, 4, 0, 2])
    await new Promise((resolve) => setTimeout(resolve, 50))
    const cpuOf = new Map<number, number>()
    for (const batch of posts) {
      for (let i = 0; i < batch.length; i += TO_MAIN_WIDTH) {
        if (batch[i] === OP_SUCCESS) cpuOf.set(batch[i + 1] as number, batch[i + 3] as number)
      }
    }
    assert.deepStrictEqual([...cpuOf.keys()].sort(), [1, 2, 3, 4])
    assert.isAtLeast(cpuOf.get(1)!, 0)
    assert.isAtLeast(cpuOf.get(4)!, 0)
    // Even a sleep of 0 suspends the fiber: the pool must not pipeline such a task past its concurrency.
    assert.isBelow(cpuOf.get(2)!, 0)
    assert.isBelow(cpuOf.get(3)!, 0)
  })
})
