// The dispatcher's lifecycles against scripted workers (see `FakeWorker.ts`), on a fake clock: boots and their
// retries, crashes and what happens to each call of the dead worker, timeouts and termination, shutdown,
// scaling, and what the pool reports meanwhile. The real-worker specs (`Crash`, `Boot`, `Lifecycle`,
// `test/faults`) show the same behaviours end to end; these pin each rule of `Dispatch.ts` on its own.
import { afterEach, assert, describe, it, vi } from "@effect/vitest"
import { Effect, Exit, Logger, References, Schema } from "effect"
import { PoolConfig } from "../../src/domain/Config.ts"
import {
  PayloadInvalid,
  PoolShutDown,
  QueueFull,
  TaskTimeout,
  WorkerBootFailed,
  WorkerCrashed
} from "../../src/domain/OrchestratorError.ts"
import type { TaskStats } from "../../src/runtime/pool/Call.ts"
import { Engine } from "../../src/runtime/pool/Dispatch.ts"
import type { PoolEvent } from "../../src/runtime/pool/Dispatch.ts"
import { pipelineBytes } from "../../src/runtime/pool/Placement.ts"
import {
  OP_FATAL,
  OP_HEAP,
  OP_INTERRUPT,
  OP_RUN,
  OP_SUCCESS,
  OP_TELEMETRY,
  OP_TRACE
} from "../../src/runtime/wire/Protocol.ts"
import { cores, failure, FakeWorker, flushMicrotasks, setup, success } from "./FakeWorker.ts"

/** Fake timers and a fake `performance.now`, both starting at 0. */
const useClock = () =>
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"] })
const tick = (millis: number) => vi.advanceTimersByTime(millis)

const bootFailures = (events: ReadonlyArray<PoolEvent>) =>
  events.filter((event): event is Extract<PoolEvent, { _tag: "WorkerBootFailed" }> => event._tag === "WorkerBootFailed")
const crashes = (events: ReadonlyArray<PoolEvent>) =>
  events.filter((event): event is Extract<PoolEvent, { _tag: "WorkerCrashed" }> => event._tag === "WorkerCrashed")

afterEach(() => {
  vi.useRealTimers()
  FakeWorker.canSkip = true
  FakeWorker.canTransfer = true
  cores.spare = true
})

describe("booting", () => {
  it("one worker boots first; once it is ready the rest of minWorkers start and the queued calls go to it", async () => {
    const { bootResult, engine, exits, submit, workers } = setup({ minWorkers: 3, maxWorkers: 3 })
    submit("a")
    submit("b")
    assert.strictEqual(workers.length, 1)
    assert.strictEqual(bootResult(), "pending")
    assert.deepStrictEqual([engine.stats().workers, engine.stats().booting, engine.stats().queued], [1, 1, 2])
    workers[0]!.ready(["echo", "other"])
    assert.isUndefined(bootResult())
    assert.strictEqual(workers.length, 3)
    assert.deepStrictEqual(engine.stats().workerIds, [1, 2, 3])
    assert.strictEqual(engine.stats().spawned, 3)
    // The pool can still grow: the second call waits for the second worker rather than behind the first.
    assert.deepStrictEqual(workers[0]!.runIds(), [1])
    assert.strictEqual(engine.indexOf("other"), 1)
    assert.isUndefined(engine.indexOf("missing"))
    // The task table comes from the first worker that is ready.
    workers[1]!.ready(["else"])
    assert.deepStrictEqual(engine.names, ["echo", "other"])
    assert.isUndefined(engine.indexOf("else"))
    await flushMicrotasks()
    assert.deepStrictEqual(workers[1]!.runIds(), [2])
    workers[0]!.answerAll()
    workers[1]!.answerAll()
    assert.deepStrictEqual(exits.map(success), ["a", "b"])
  })

  it("a first worker that never says it is ready breaks the pool bootTimeout after the start", () => {
    useClock()
    const { bootResult, engine, events, exits, submit, workers } = setup({ bootTimeout: 1_000 })
    submit("waits")
    tick(999)
    assert.strictEqual(bootResult(), "pending")
    assert.strictEqual(exits.length, 0)
    tick(1)
    const error = bootResult() as WorkerBootFailed
    assert.instanceOf(error, WorkerBootFailed)
    assert.strictEqual(error.workerId, 1)
    assert.strictEqual(error.attempts, 1)
    assert.strictEqual(
      (error.cause as Error).message,
      "the worker did not become ready within 1000 ms of the pool's start, retries included (does its entry call serve()? does an import hang?)"
    )
    assert.strictEqual(failure(exits[0]), error)
    assert.strictEqual(engine.rejection(), error)
    assert.isTrue(workers[0]!.terminated)
    // Stopped by the pool: its exit is not one more failed boot, and nothing starts again.
    workers[0]!.events.onExit(null, "SIGTERM")
    tick(60_000)
    assert.strictEqual(workers.length, 1)
    assert.strictEqual(bootFailures(events).length, 0)
    // A late `ready` from the stopped worker changes nothing.
    workers[0]!.ready()
    assert.strictEqual(engine.rejection(), error)
    assert.isUndefined(engine.names)
  })

  it("the start deadline counts the retries: the pool breaks with the last boot error, naming the worker booting", () => {
    useClock()
    const { bootResult, engine, events, workers } = setup({ bootTimeout: 1_000, maxBootFailures: 5 })
    const cause = new Error("cannot find module 'x'")
    workers[0]!.events.onError(cause)
    workers[0]!.events.onExit(1, null)
    assert.deepStrictEqual(bootFailures(events), [{
      _tag: "WorkerBootFailed",
      workerId: 1,
      attempt: 1,
      maxAttempts: 5,
      cause,
      final: false
    }])
    assert.strictEqual(bootResult(), "pending")
    tick(49)
    assert.strictEqual(workers.length, 1)
    tick(1)
    assert.strictEqual(workers.length, 2)
    tick(950)
    const error = bootResult() as WorkerBootFailed
    assert.instanceOf(error, WorkerBootFailed)
    assert.deepStrictEqual([error.workerId, error.attempts, error.cause], [2, 2, cause])
    assert.isTrue(workers[1]!.terminated, "the worker still booting is stopped")
    assert.strictEqual(engine.stats().bootFailures, 1)
    assert.strictEqual(engine.stats().lastBootError, "Error: cannot find module 'x'")
  })

  it("a start deadline that passes between two retries names the last worker that failed and counts its boots", () => {
    useClock()
    const { bootResult, workers } = setup({ bootTimeout: 100, maxBootFailures: 5 })
    workers[0]!.events.onExit(1, null)
    tick(50)
    workers[1]!.events.onExit(1, null) // the next retry is due at 150 ms
    tick(50)
    const error = bootResult() as WorkerBootFailed
    assert.instanceOf(error, WorkerBootFailed)
    assert.deepStrictEqual([error.workerId, error.attempts], [2, 2])
    assert.strictEqual(
      (error.cause as Error).message,
      "the worker exited with code 1 before it was ready (does its entry call serve()?)"
    )
    tick(1_000)
    assert.strictEqual(workers.length, 2, "a broken pool starts no worker")
  })

  it("maxBootFailures failed boots in a row before the pool was ever up break it, with the worker's own error", () => {
    useClock()
    const { bootResult, engine, events, exits, submit, workers } = setup({ maxBootFailures: 2 })
    submit("waits")
    workers[0]!.events.onError(new Error("first"))
    workers[0]!.events.onExit(1, null)
    assert.strictEqual(exits.length, 0, "the first failure is retried")
    tick(50)
    const cause = new Error("second")
    workers[1]!.events.onError(cause)
    workers[1]!.events.onExit(1, null)
    const error = bootResult() as WorkerBootFailed
    assert.deepStrictEqual([error.workerId, error.attempts, error.cause], [2, 2, cause])
    assert.strictEqual(failure(exits[0]), error)
    assert.strictEqual(engine.rejection(), error)
    assert.deepStrictEqual(bootFailures(events).map((event) => [event.attempt, event.final]), [[1, false], [2, true]])
    tick(60_000)
    assert.strictEqual(workers.length, 2)
    assert.strictEqual(engine.stats().bootFailures, 2)
  })

  it("a worker that exits before it is ready without an error is described by its exit code or signal", () => {
    useClock()
    const { events, workers } = setup({ maxBootFailures: 5 })
    workers[0]!.events.onExit(1, null)
    tick(50)
    workers[1]!.events.onExit(null, "SIGKILL")
    tick(100)
    workers[2]!.events.onExit(null, null)
    tick(200)
    workers[3]!.events.onExit(9, "SIGABRT")
    assert.deepStrictEqual(bootFailures(events).map((event) => (event.cause as Error).message), [
      "the worker exited with code 1 before it was ready (does its entry call serve()?)",
      "the worker exited on SIGKILL before it was ready (does its entry call serve()?)",
      "the worker exited before it was ready (does its entry call serve()?)",
      "the worker exited with code 9 on SIGABRT before it was ready (does its entry call serve()?)"
    ])
    assert.deepStrictEqual(bootFailures(events).map((event) => event.workerId), [1, 2, 3, 4])
  })

  it("a worker's error that is not an Error of this realm is copied into one, with its name, message, stack and code", () => {
    useClock()
    const { engine, events, workers } = setup({ maxBootFailures: 9 })
    const foreign = {
      name: "ImportError",
      message: "no such file",
      stack: "ImportError: no such file\n  at x",
      code: 2
    }
    workers[0]!.events.onError(foreign)
    workers[0]!.events.onExit(1, null)
    const copy = bootFailures(events)[0]!.cause as Error & { code?: unknown }
    assert.instanceOf(copy, Error)
    assert.deepStrictEqual([copy.name, copy.message, copy.stack, copy.code], [
      "ImportError",
      "no such file",
      "ImportError: no such file\n  at x",
      2
    ])
    assert.strictEqual(engine.stats().lastBootError, "ImportError: no such file")
    tick(50)
    workers[1]!.events.onError({ name: 7, message: 8, stack: 9 })
    workers[1]!.events.onExit(1, null)
    const bare = bootFailures(events)[1]!.cause as Error
    assert.instanceOf(bare, Error)
    assert.deepStrictEqual([bare.name, bare.message, "code" in bare], ["Error", "unknown error", false])
    assert.notStrictEqual(bare.stack as unknown, 9)
    tick(100)
    const own = new RangeError("own")
    workers[2]!.events.onError(own)
    workers[2]!.events.onExit(1, null)
    assert.strictEqual(bootFailures(events)[2]!.cause, own, "an Error is kept as it is")
    tick(200)
    workers[3]!.events.onError("disk gone")
    workers[3]!.events.onExit(1, null)
    assert.strictEqual(bootFailures(events)[3]!.cause, "disk gone", "so is a value that is not an object")
    assert.strictEqual(engine.stats().lastBootError, "disk gone")
  })

  it("a spawner that throws is a failed boot with its error, retried with backoff", async () => {
    useClock()
    const cause = new Error("EMFILE")
    const { engine, events, workers } = setup({}, { spawnError: (id) => id === 1 ? cause : undefined })
    assert.strictEqual(workers.length, 0)
    await flushMicrotasks()
    assert.deepStrictEqual(bootFailures(events).map((event) => [event.workerId, event.cause]), [[1, cause]])
    tick(50)
    assert.strictEqual(workers.length, 1)
    workers[0]!.ready()
    assert.strictEqual(engine.stats().spawned, 2)
    assert.deepStrictEqual(engine.stats().workerIds, [2])
  })

  it("a worker that has said it is ready is not terminated when its boot timeout passes", () => {
    useClock()
    const { workers } = setup({ bootTimeout: 1_000 })
    workers[0]!.ready()
    tick(5_000)
    assert.isFalse(workers[0]!.terminated)
  })
})

describe("boots once the pool has been up", () => {
  it("a replacement that never says it is ready is terminated at bootTimeout and counts as a failed boot", () => {
    useClock()
    const { engine, events, workers } = setup({ bootTimeout: 1_000 })
    workers[0]!.ready()
    workers[0]!.events.onExit(1, null)
    tick(50)
    assert.strictEqual(workers.length, 2)
    tick(999)
    assert.isFalse(workers[1]!.terminated)
    tick(1)
    assert.isTrue(workers[1]!.terminated)
    workers[1]!.events.onExit(null, "SIGTERM")
    const failed = bootFailures(events)
    assert.strictEqual(failed.length, 1)
    assert.strictEqual(
      (failed[0]!.cause as Error).message,
      "the worker did not become ready within 1000 ms (does its entry call serve()?)"
    )
    assert.strictEqual(failed[0]!.final, false, "a pool that has been up never gives up")
    assert.isUndefined(engine.rejection(), "one failed boot (of 3) does not fail calls")
  })

  it("while replacements cannot boot, calls run on the worker still up; the pool returns to full size after", async () => {
    useClock()
    const { engine, events, exits, submit, workers } = setup({
      minWorkers: 2,
      maxWorkers: 2,
      maxBootFailures: 2,
      concurrentTasksPerWorker: 1
    })
    workers[0]!.ready()
    workers[1]!.ready()
    workers[0]!.events.onExit(1, null) // a crash: replaced after 50 ms, then each failed boot doubles the wait
    const cause = new Error("ENOENT: entry.js")
    for (const [index, delay] of [[2, 50], [3, 100], [4, 200]] as const) {
      tick(delay - 1)
      assert.strictEqual(workers.length, index, `no boot before ${delay} ms`)
      tick(1)
      assert.strictEqual(workers.length, index + 1)
      workers[index]!.events.onError(cause)
      workers[index]!.events.onExit(1, null)
    }
    assert.isUndefined(engine.rejection(), "a worker is up: calls are taken")
    assert.strictEqual(engine.stats().bootFailures, 3)
    assert.strictEqual(engine.stats().lastBootError, "Error: ENOENT: entry.js")
    submit("a")
    submit("b")
    await flushMicrotasks()
    assert.deepStrictEqual(workers[1]!.runIds(), [1])
    workers[1]!.answerAll()
    await flushMicrotasks()
    workers[1]!.answerAll()
    assert.deepStrictEqual(exits.map(success), ["a", "b"])
    // The cause is gone: the next boot succeeds and the pool is back to two workers.
    tick(400)
    assert.strictEqual(workers.length, 6)
    workers[5]!.ready()
    assert.deepStrictEqual(events.filter((event) => event._tag === "WorkerReplaced"), [{
      _tag: "WorkerReplaced",
      workerId: 6
    }])
    assert.deepStrictEqual(engine.stats().workerIds, [2, 6])
    assert.strictEqual(engine.stats().idle, 2)
  })

  it("with no worker ready and maxBootFailures boots in a row failed, queued and new calls fail until a boot succeeds", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ maxBootFailures: 2 })
    workers[0]!.ready()
    workers[0]!.events.onExit(1, null)
    submit("waits")
    tick(50)
    workers[1]!.events.onExit(1, null)
    assert.strictEqual(exits.length, 0, "one failed boot of two")
    assert.isUndefined(engine.rejection())
    tick(100)
    const cause = new Error("still missing")
    workers[2]!.events.onError(cause)
    workers[2]!.events.onExit(1, null)
    const error = failure(exits[0]) as WorkerBootFailed
    assert.instanceOf(error, WorkerBootFailed)
    assert.deepStrictEqual([error.workerId, error.attempts, error.cause], [3, 2, cause])
    assert.strictEqual(engine.rejection(), error)
    tick(200)
    workers[3]!.ready()
    assert.isUndefined(engine.rejection())
    submit("served")
    await flushMicrotasks()
    workers[3]!.answerAll()
    assert.strictEqual(success(exits[1]), "served")
  })

  it("an answer resets the crash backoff; crashes in a row double it", async () => {
    useClock()
    const { submit, workers } = setup()
    workers[0]!.ready()
    workers[0]!.events.onExit(1, null)
    tick(50)
    workers[1]!.ready()
    workers[1]!.events.onExit(1, null) // second crash in a row: 100 ms
    tick(99)
    assert.strictEqual(workers.length, 2)
    tick(1)
    assert.strictEqual(workers.length, 3)
    workers[2]!.ready()
    submit("ok")
    await flushMicrotasks()
    workers[2]!.answer([1])
    workers[2]!.events.onExit(1, null) // after an answer: 50 ms again
    tick(49)
    assert.strictEqual(workers.length, 3)
    tick(1)
    assert.strictEqual(workers.length, 4)
  })
})

describe("crashes", () => {
  it("only calls that had started fail; those sent but not started run once elsewhere, ahead of the queue", async () => {
    useClock()
    const { engine, events, exits, submit, workers } = setup({
      minWorkers: 2,
      maxWorkers: 2,
      concurrentTasksPerWorker: 4
    })
    workers[0]!.ready()
    workers[1]!.ready()
    for (let i = 1; i <= 10; i++) submit(i)
    await flushMicrotasks()
    // Each call to the worker with fewer calls in flight; calls 9 and 10 wait for room.
    assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[1, 3, 5, 7], [2, 4, 6, 8]])
    assert.strictEqual(engine.stats().queued, 2)
    workers[0]!.answer([1]) // which makes room for call 9
    workers[0]!.taken = 2 // it had started calls 1 and 3, not 5, 7 and 9
    workers[0]!.events.onExit(7, null)
    assert.deepStrictEqual(exits.map(success), [1, undefined])
    const crash = failure(exits[1]) as WorkerCrashed
    assert.instanceOf(crash, WorkerCrashed)
    assert.deepStrictEqual(
      [crash.workerId, crash.exitCode, crash.signal, crash.reason, crash.detail],
      [1, 7, null, "exit", "the worker exited with code 7"]
    )
    assert.deepStrictEqual(crashes(events), [{ _tag: "WorkerCrashed", error: crash, calls: 1 }])
    assert.deepStrictEqual(
      [engine.stats().crashed, engine.stats().redispatched, engine.stats().queued, engine.stats().failed],
      [1, 3, 4, 1]
    )
    // The crashed worker is replaced after the backoff, and says so once it is ready; the calls sent back go
    // to it first, in their order.
    tick(49)
    assert.strictEqual(workers.length, 2)
    tick(1)
    assert.strictEqual(workers.length, 3)
    workers[2]!.ready()
    assert.deepStrictEqual(events.at(-1), { _tag: "WorkerReplaced", workerId: 3 })
    assert.strictEqual(engine.stats().workers, 2)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[2]!.runIds(), [5, 7, 9, 10])
    workers[1]!.answerAll()
    workers[2]!.answerAll()
    assert.deepStrictEqual(exits.slice(2).map(success), [2, 4, 6, 8, 5, 7, 9, 10])
    assert.deepStrictEqual([engine.statsOf("echo").completed, engine.statsOf("echo").failed], [9, 1])
  })

  it("without a start log, every unanswered call counts as started", async () => {
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    for (let i = 0; i < 3; i++) submit(i)
    await flushMicrotasks()
    workers[0]!.events.onExit(1, null)
    assert.strictEqual(exits.filter((exit) => failure(exit) instanceof WorkerCrashed).length, 3)
    assert.strictEqual(engine.stats().redispatched, 0)
    assert.strictEqual(engine.stats().queued, 0)
  })

  it("a worker's last error names the crash: uncaught, out of memory, or how it exited", async () => {
    const crashWith = async (
      kill: (worker: FakeWorker) => void,
      config: Partial<PoolConfig> = {}
    ): Promise<WorkerCrashed> => {
      const { exits, submit, workers } = setup(config)
      workers[0]!.ready()
      submit("x")
      await flushMicrotasks()
      kill(workers[0]!)
      return failure(exits[0])
    }
    const fatal = await crashWith((worker) => {
      worker.events.onMessage([OP_FATAL, 0, { name: "TypeError", message: "x is not a function" }, 0])
      worker.events.onExit(1, null)
    })
    assert.deepStrictEqual(
      [fatal.reason, fatal.exitCode, fatal.detail],
      ["uncaught", 1, "uncaught in the worker: TypeError: x is not a function"]
    )
    const oomError = { name: "Error", message: "heap", code: "ERR_WORKER_OUT_OF_MEMORY" }
    const oom = await crashWith((worker) => {
      worker.events.onError(oomError)
      worker.events.onExit(1, null)
    })
    assert.deepStrictEqual([oom.reason, oom.detail], ["out-of-memory", "the worker ran out of memory"])
    const limited = await crashWith((worker) => {
      worker.events.onError(oomError)
      worker.events.onExit(1, null)
    }, { resourceLimits: { maxOldGenerationSizeMb: 64 } })
    assert.strictEqual(limited.detail, "the worker ran out of memory (resourceLimits reached)")
    const signal = await crashWith((worker) => worker.events.onExit(null, "SIGKILL"))
    assert.deepStrictEqual(
      [signal.reason, signal.exitCode, signal.signal, signal.detail],
      ["exit", null, "SIGKILL", "the worker exited on SIGKILL"]
    )
    const both = await crashWith((worker) => worker.events.onExit(3, "SIGABRT"))
    assert.strictEqual(both.detail, "the worker exited with code 3 on SIGABRT")
    const bare = await crashWith((worker) => worker.events.onExit(null, null))
    assert.strictEqual(bare.detail, "the worker exited")
  })

  it("a call not started whose buffers were moved into the dead thread fails; copied buffers are sent again", async () => {
    const run = async (canTransfer: boolean, transfer: (buffer: ArrayBuffer) => Array<ArrayBuffer>) => {
      FakeWorker.canTransfer = canTransfer
      const pool = setup({ concurrentTasksPerWorker: 4 })
      pool.workers[0]!.ready()
      pool.submit("first")
      const buffer = new ArrayBuffer(8)
      pool.call({ payload: buffer, transfer: transfer(buffer) })
      await flushMicrotasks()
      pool.workers[0]!.taken = 1
      pool.workers[0]!.events.onExit(7, null)
      return pool
    }
    const moved = await run(true, (buffer) => [buffer])
    const error = failure(moved.exits[1]) as WorkerCrashed
    assert.instanceOf(error, WorkerCrashed)
    assert.deepStrictEqual([error.reason, error.exitCode, error.workerId], ["exit", 7, 1])
    assert.strictEqual(
      error.detail,
      "the worker exited with code 7; this call had not started, but its payload buffers were moved to that worker, so it cannot be sent again"
    )
    assert.strictEqual(moved.engine.stats().redispatched, 0)
    assert.strictEqual(moved.events.find((event) => event._tag === "WorkerCrashed")?.["calls" as never], 2)

    const copied = await run(false, (buffer) => [buffer])
    assert.strictEqual(copied.exits.length, 1, "only the call that had started failed")
    assert.strictEqual(copied.engine.stats().redispatched, 1)
    const empty = await run(true, () => [])
    assert.strictEqual(empty.exits.length, 1, "an empty transfer list moves nothing")
    assert.strictEqual(empty.engine.stats().redispatched, 1)
  })

  it("a call whose caller is gone is dropped with its worker, and not counted in the crash", async () => {
    const { engine, events, exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    const gone = submit("gone")
    submit("running")
    await flushMicrotasks()
    engine.cancel(gone)
    workers[0]!.events.onExit(1, null)
    assert.strictEqual(exits.length, 1)
    assert.instanceOf(failure(exits[0]), WorkerCrashed)
    assert.strictEqual(crashes(events)[0]!.calls, 1)
    assert.strictEqual(engine.stats().failed, 1)
  })

  it("a call sent again gets its whole timeout again", async () => {
    useClock()
    const { exits, submit, workers } = setup({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 2 })
    workers[0]!.ready()
    workers[1]!.ready()
    submit("a")
    submit("b")
    submit("c", 100) // pipelined behind "a" in worker 1
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 3])
    workers[1]!.answer([2])
    tick(60)
    workers[0]!.taken = 1
    workers[0]!.events.onExit(1, null) // "c" never started: it goes to worker 2, idle
    await flushMicrotasks()
    assert.deepStrictEqual(workers[1]!.runIds(), [3])
    tick(99)
    assert.isUndefined(exits.find((exit) => failure(exit) instanceof TaskTimeout))
    tick(1)
    const timeout = failure(exits.at(-1)) as TaskTimeout
    assert.instanceOf(timeout, TaskTimeout)
  })

  it("the caller's assignment cell learns each worker the call is sent to, and keeps when it was first sent", async () => {
    useClock()
    const { call, workers } = setup({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 2 })
    workers[0]!.ready()
    workers[1]!.ready()
    tick(10)
    call({ payload: "a" })
    call({ payload: "b" })
    const assignment: { workerId: number | undefined; sentAt?: number | undefined } = {
      workerId: undefined,
      sentAt: undefined
    }
    call({ payload: "c", assignment })
    assert.deepStrictEqual(assignment, { workerId: 1, sentAt: 10 })
    await flushMicrotasks()
    workers[1]!.answer([2])
    tick(5)
    workers[0]!.taken = 1
    workers[0]!.events.onExit(1, null)
    assert.deepStrictEqual(assignment, { workerId: 2, sentAt: 10 })
  })
})

describe("timeouts and cancellation", () => {
  it("a call past its timeout fails with TaskTimeout; a worker that does not stop it is terminated after the grace period", async () => {
    useClock()
    const { call, engine, events, exits, submit, workers } = setup({
      concurrentTasksPerWorker: 4,
      terminationGrace: 500
    })
    const worker = workers[0]!
    worker.ready()
    call({ payload: "stuck", timeoutMillis: 100, taskId: "job-7" })
    submit("answered")
    submit("started")
    submit("not started")
    await flushMicrotasks()
    tick(99)
    assert.strictEqual(exits.length, 0)
    tick(1)
    const timeout = failure(exits[0]) as TaskTimeout
    assert.instanceOf(timeout, TaskTimeout)
    assert.deepStrictEqual([timeout.taskId, timeout.taskName, timeout.timeoutMillis], ["job-7", "echo", 100])
    assert.deepStrictEqual([engine.stats().failed, engine.statsOf("echo").failed], [1, 1])
    await flushMicrotasks()
    assert.deepStrictEqual(worker.records().at(-1), [OP_INTERRUPT, 1, 0, 0])
    tick(499)
    assert.isFalse(worker.terminated)
    tick(1)
    assert.isTrue(worker.terminated)
    assert.strictEqual(workers.length, 2, "its replacement starts at once")
    // Answers that leave the worker before it has exited are still taken.
    worker.answer([2])
    assert.strictEqual(success(exits[1]), "answered")
    worker.taken = 3
    worker.events.onExit(null, "SIGTERM")
    const crash = failure(exits[2]) as WorkerCrashed
    assert.instanceOf(crash, WorkerCrashed)
    assert.deepStrictEqual([crash.workerId, crash.exitCode, crash.signal, crash.reason], [1, null, null, "terminated"])
    assert.strictEqual(
      crash.detail,
      "task \"echo\" (job-7) did not stop within 500 ms of being cancelled; this call had started on it"
    )
    assert.strictEqual(exits.length, 3, "the timed-out call resumes once")
    assert.strictEqual(crashes(events).length, 0, "a worker the pool stopped did not crash")
    assert.deepStrictEqual([engine.stats().crashed, engine.stats().failed], [0, 2])
    workers[1]!.ready()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[1]!.runIds(), [4])
    workers[1]!.answerAll()
    assert.strictEqual(success(exits[3]), "not started")
  })

  it("a call that stops within the grace period keeps its worker", async () => {
    useClock()
    const { exits, submit, workers } = setup({ terminationGrace: 500 })
    workers[0]!.ready()
    submit("slow", 100)
    await flushMicrotasks()
    tick(100)
    workers[0]!.answer([1], 3 /* OP_INTERRUPTED */)
    tick(10_000)
    assert.isFalse(workers[0]!.terminated)
    assert.strictEqual(exits.length, 1)
    submit("next")
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [2])
  })

  it("with a grace period of 0, cancelling a running call terminates its worker at once", async () => {
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 2, terminationGrace: 0 })
    workers[0]!.ready()
    const cancelled = submit("cancelled")
    submit("other")
    await flushMicrotasks()
    engine.cancel(cancelled)
    assert.isTrue(workers[0]!.terminated)
    workers[0]!.taken = 2
    workers[0]!.events.onExit(null, null)
    assert.strictEqual(exits.length, 1)
    assert.strictEqual(
      (failure(exits[0]) as WorkerCrashed).detail,
      "task \"echo\" (echo#1) was cancelled and the grace period is 0; this call had started on it"
    )
  })

  it("a cancelled call waiting behind another gets its grace period once the one ahead answers", async () => {
    useClock()
    const { engine, submit, workers } = setup({ terminationGrace: 500 })
    const worker = workers[0]!
    worker.ready()
    worker.cpuMillis = 50
    engine.statsOf("echo").record(50)
    submit("first")
    const waiting = submit("waiting")
    await flushMicrotasks()
    assert.deepStrictEqual(worker.runIds(), [1, 2])
    engine.cancel(waiting)
    tick(10_000)
    assert.isFalse(worker.terminated)
    worker.answer([1]) // it may now start the cancelled call (the skip came too late)
    tick(499)
    assert.isFalse(worker.terminated)
    tick(1)
    assert.isTrue(worker.terminated)
  })

  it("a cancelled call that was never sent is not counted as failed, and one cancelled twice is left alone", async () => {
    const { engine, exits, submit, workers } = setup()
    const queued = submit("queued")
    engine.cancel(queued)
    engine.cancel(queued)
    assert.isUndefined(engine.rejection(), "the pool goes on")
    workers[0]!.ready()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [])
    assert.strictEqual(exits.length, 0)
    assert.strictEqual(engine.stats().failed, 0)
  })
})

describe("shutdown", () => {
  it("an idle pool terminates its workers and calls back once they have all exited", () => {
    const { engine, events, workers } = setup({ minWorkers: 2, maxWorkers: 2 })
    workers[0]!.ready()
    workers[1]!.ready()
    let closed = 0
    engine.shutdown(() => closed++)
    assert.strictEqual((engine.rejection() as PoolShutDown).service, "WorkerPool")
    assert.deepStrictEqual(workers.map((worker) => worker.terminated), [true, true])
    engine.shutdown(() => closed++)
    workers[0]!.events.onExit(0, null)
    assert.strictEqual(closed, 0, "not before every worker has exited")
    workers[1]!.events.onExit(0, null)
    assert.strictEqual(closed, 2)
    assert.strictEqual(engine.stats().workers, 0)
    engine.shutdown(() => closed++)
    assert.strictEqual(closed, 3, "a pool already closed calls back at once")
    assert.deepStrictEqual([crashes(events).length, engine.stats().crashed], [0, 0], "stopped, not crashed")
  })

  it("before the first worker is ready, the start callback gets PoolShutDown", () => {
    const { bootResult, engine, workers } = setup()
    let closed = false
    engine.shutdown(() => {
      closed = true
    })
    assert.strictEqual((bootResult() as PoolShutDown).service, "WorkerPool")
    assert.isTrue(workers[0]!.terminated)
    workers[0]!.events.onExit(null, "SIGTERM")
    assert.isTrue(closed)
  })

  it("running and queued calls finish first; then the workers are terminated", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 1 })
    workers[0]!.ready()
    submit("a")
    submit("b")
    await flushMicrotasks()
    const closed: Array<string> = []
    engine.shutdown(() => closed.push("first"))
    engine.shutdown(() => closed.push("second"))
    assert.instanceOf(engine.rejection(), PoolShutDown)
    assert.isFalse(workers[0]!.terminated)
    workers[0]!.answerAll()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [2])
    assert.isFalse(workers[0]!.terminated)
    workers[0]!.answerAll()
    assert.isTrue(workers[0]!.terminated)
    assert.deepStrictEqual(exits.map(success), ["a", "b"])
    assert.deepStrictEqual(closed, [])
    workers[0]!.events.onExit(0, null)
    assert.deepStrictEqual(closed, ["first", "second"])
  })

  it("at the deadline, the calls left fail with PoolShutDown and late answers are ignored", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 1, shutdownDeadline: 1_000 })
    workers[0]!.ready()
    submit("running")
    submit("queued")
    await flushMicrotasks()
    engine.shutdown(() => {})
    tick(999)
    assert.strictEqual(exits.length, 0)
    tick(1)
    assert.deepStrictEqual(exits.map((exit) => failure(exit) instanceof PoolShutDown), [true, true])
    assert.strictEqual(failure(exits[0]).service, "WorkerPool")
    assert.isTrue(workers[0]!.terminated)
    workers[0]!.answerAll()
    assert.strictEqual(exits.length, 2)
    assert.deepStrictEqual([engine.stats().failed, engine.stats().completed, engine.stats().inFlight], [2, 0, 0])
  })

  it("a call that timed out before the deadline is not counted twice", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ shutdownDeadline: 1_000, terminationGrace: 5_000 })
    workers[0]!.ready()
    submit("stuck", 100)
    await flushMicrotasks()
    engine.shutdown(() => {})
    tick(1_000)
    assert.strictEqual(exits.length, 1)
    assert.strictEqual(engine.stats().failed, 1)
  })

  it("cancelling the last queued call ends a drain", () => {
    const { engine, submit, workers } = setup()
    const queued = submit("queued")
    let closed = false
    engine.shutdown(() => {
      closed = true
    })
    assert.isFalse(workers[0]!.terminated)
    engine.cancel(queued)
    assert.isTrue(workers[0]!.terminated)
    workers[0]!.events.onExit(null, null)
    assert.isTrue(closed)
  })

  it("a crash while draining starts a worker only for calls still queued", async () => {
    useClock()
    const { engine, events, exits, submit, workers } = setup({ concurrentTasksPerWorker: 1 })
    workers[0]!.ready()
    submit("a")
    submit("b")
    await flushMicrotasks()
    let closed = false
    engine.shutdown(() => {
      closed = true
    })
    workers[0]!.events.onExit(1, null)
    assert.instanceOf(failure(exits[0]), WorkerCrashed)
    tick(50)
    assert.strictEqual(workers.length, 2, "a worker for the queued call")
    workers[1]!.ready()
    assert.strictEqual(events.filter((event) => event._tag === "WorkerReplaced").length, 0)
    await flushMicrotasks()
    workers[1]!.answerAll()
    assert.strictEqual(success(exits[1]), "b")
    assert.isTrue(workers[1]!.terminated)
    workers[1]!.events.onExit(0, null)
    assert.isTrue(closed)
    tick(10_000)
    assert.strictEqual(workers.length, 2)
  })

  it("a crash of the last busy worker while draining, with nothing queued, closes the pool", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup()
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    let closed = false
    engine.shutdown(() => {
      closed = true
    })
    workers[0]!.events.onExit(1, null)
    assert.instanceOf(failure(exits[0]), WorkerCrashed)
    assert.isTrue(closed)
    tick(10_000)
    assert.strictEqual(workers.length, 1)
  })

  it("shutting down cancels a pending respawn", () => {
    useClock()
    const { engine, workers } = setup()
    workers[0]!.ready()
    workers[0]!.events.onExit(1, null)
    let closed = false
    engine.shutdown(() => {
      closed = true
    })
    assert.isTrue(closed)
    tick(10_000)
    assert.strictEqual(workers.length, 1)
  })

  it("a worker being closed gracefully is terminated by the shutdown", async () => {
    const { engine, submit, workers } = setup({ maxTasksPerWorker: 1 })
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    workers[0]!.answer([1])
    assert.isTrue(workers[0]!.closed)
    assert.isFalse(workers[0]!.terminated)
    engine.shutdown(() => {})
    assert.isTrue(workers[0]!.terminated)
    assert.isTrue(workers[1]!.terminated, "and its replacement still booting")
  })
})

describe("placement and scaling", () => {
  it("a pool that can grow starts a worker per queued or running call, up to maxWorkers, instead of pipelining", async () => {
    const { engine, submit, workers } = setup({ minWorkers: 1, maxWorkers: 3, concurrentTasksPerWorker: 8 })
    workers[0]!.ready()
    submit(1)
    submit(2)
    assert.strictEqual(workers.length, 2, "one running and one queued call: two workers")
    submit(3)
    submit(4)
    assert.strictEqual(workers.length, 3)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1])
    assert.strictEqual(engine.stats().queued, 3)
    workers[1]!.ready()
    workers[2]!.ready()
    await flushMicrotasks()
    // Full size: the fourth call is pipelined into the worker with the least in flight.
    assert.deepStrictEqual(workers.map((worker) => worker.runIds()), [[1, 4], [2], [3]])
  })

  it("what an answered call leaves in a worker's pipeline is what counts for the next call", async () => {
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 16 })
    const worker = workers[0]!
    worker.ready()
    worker.cpuMillis = 1
    engine.statsOf("echo").cpuMillis = 1 // 1 ms a call: four fit the 4 ms budget
    for (let i = 0; i < 6; i++) submit(i)
    await flushMicrotasks()
    assert.deepStrictEqual(worker.runIds(), [1, 2, 3, 4])
    worker.answer([1])
    await flushMicrotasks()
    assert.deepStrictEqual(worker.runIds(), [2, 3, 4, 5])
    assert.strictEqual(engine.stats().queued, 1)
  })

  it("so do the bytes an answered call had moved", async () => {
    const { engine, call, workers } = setup({ concurrentTasksPerWorker: 64 })
    workers[0]!.ready()
    for (let i = 0; i < 6; i++) {
      const buffer = new ArrayBuffer(pipelineBytes / 4)
      call({ payload: buffer, transfer: [buffer] })
    }
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3, 4])
    // The buffers of a batch travel with it.
    assert.strictEqual(workers[0]!.transfers[0]!.length, 4)
    workers[0]!.answer([1])
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [2, 3, 4, 5])
    assert.strictEqual(engine.stats().queued, 1)
  })

  it("a traced call's span goes ahead of it, and every message carries something", async () => {
    const { call, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    call({ payload: "traced", trace: ["trace-1", "span-1"] })
    submit("plain")
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.records(), [
      [OP_TRACE, 1, "trace-1", "span-1"],
      [OP_RUN, 1, 0, "traced"],
      [OP_RUN, 2, 0, "plain"]
    ])
    workers[0]!.answerAll()
    await flushMicrotasks()
    assert.strictEqual(workers[0]!.sent.length, 0, "no empty batch is posted")
  })

  it("idle workers above minWorkers stop after idleTimeout, checked every half of it", async () => {
    useClock()
    const { engine, submit, workers } = setup({ minWorkers: 1, maxWorkers: 3, idleTimeout: 100 })
    workers[0]!.ready()
    for (let i = 0; i < 3; i++) submit(i)
    workers[1]!.ready()
    workers[2]!.ready()
    await flushMicrotasks()
    for (const worker of workers) worker.answerAll()
    tick(99)
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [false, false, false])
    tick(1)
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [true, true, false])
    assert.isFalse(workers[0]!.terminated, "closed, not terminated")
    workers[0]!.events.onExit(0, null)
    workers[1]!.events.onExit(0, null)
    assert.deepStrictEqual(engine.stats().workerIds, [3])
    tick(10_000)
    assert.strictEqual(workers.length, 3, "minWorkers stay, and nothing is restarted")
  })

  it("a busy worker, or one busy lately, is not stopped as idle", async () => {
    useClock()
    const { submit, workers } = setup({ minWorkers: 1, maxWorkers: 3, idleTimeout: 100 })
    workers[0]!.ready()
    for (let i = 0; i < 3; i++) submit(i)
    workers[1]!.ready()
    workers[2]!.ready()
    await flushMicrotasks()
    workers[0]!.answerAll()
    tick(60)
    workers[1]!.answerAll()
    tick(40) // worker 1 idle 100 ms, worker 2 40 ms, worker 3 busy
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [true, false, false])
    tick(50)
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [true, false, false])
    tick(50)
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [true, true, false])
  })

  it("the idle check runs at most every second, and at least every 10 ms", () => {
    useClock()
    const slow = setup({ minWorkers: 0, maxWorkers: 1, idleTimeout: 2_500 })
    slow.workers[0]!.ready()
    tick(2_999)
    assert.isFalse(slow.workers[0]!.closed)
    tick(1)
    assert.isTrue(slow.workers[0]!.closed)
    const fast = setup({ minWorkers: 0, maxWorkers: 1, idleTimeout: 0 })
    fast.workers[0]!.ready()
    tick(9)
    assert.isFalse(fast.workers[0]!.closed)
    tick(1)
    assert.isTrue(fast.workers[0]!.closed)
  })

  it("after maxTasksPerWorker answers a worker takes no more calls, closes once idle, and is replaced at once", async () => {
    const { events, exits, submit, workers } = setup({ maxTasksPerWorker: 2, concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    for (let i = 1; i <= 3; i++) submit(i)
    await flushMicrotasks()
    workers[0]!.answer([1, 2])
    assert.strictEqual(workers.length, 2)
    submit(4)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [3])
    assert.isFalse(workers[0]!.closed, "it still runs call 3")
    workers[0]!.answer([3])
    assert.isTrue(workers[0]!.closed)
    assert.isFalse(workers[0]!.terminated)
    workers[0]!.events.onExit(0, null)
    workers[1]!.ready()
    await flushMicrotasks()
    workers[1]!.answerAll()
    assert.deepStrictEqual(exits.map(success), [1, 2, 3, 4])
    assert.strictEqual(crashes(events).length, 0)
  })

  it("a worker whose heap passes maxHeapMb is retired; its calls fail as terminated if it dies meanwhile", async () => {
    const { engine, exits, submit, workers } = setup({ maxHeapMb: 10, concurrentTasksPerWorker: 4 })
    const worker = workers[0]!
    worker.ready()
    submit("a")
    await flushMicrotasks()
    worker.events.onMessage([OP_HEAP, 0, 10 * 1024 * 1024, 0])
    assert.strictEqual(workers.length, 1, "at the limit: kept")
    worker.events.onMessage([OP_HEAP, 0, 10 * 1024 * 1024 + 1, 0])
    assert.strictEqual(workers.length, 2, "above it: replaced")
    submit("b")
    await flushMicrotasks()
    assert.deepStrictEqual(worker.runIds(), [1])
    worker.events.onExit(1, null)
    const error = failure(exits[0]) as WorkerCrashed
    assert.deepStrictEqual(
      [error.reason, error.detail],
      ["terminated", "heap above 10 MB; this call had started on it"]
    )
    assert.strictEqual(engine.stats().crashed, 0)
  })

  it("without maxHeapMb, heap reports change nothing", () => {
    const { workers } = setup()
    workers[0]!.ready()
    workers[0]!.events.onMessage([OP_HEAP, 0, 1e12, 0])
    assert.strictEqual(workers.length, 1)
    assert.isFalse(workers[0]!.closed)
  })
})

describe("the payloads of a batch", () => {
  it("a payload whose cloning throws fails that call alone, with PayloadInvalid; the others leave", async () => {
    const { exits, submit, workers } = setup({ concurrentTasksPerWorker: 2 })
    workers[0]!.ready()
    submit(1)
    submit({
      get bad() {
        throw new Error("getter")
      }
    })
    submit(3)
    await flushMicrotasks()
    const error = failure(exits[0]) as PayloadInvalid
    assert.instanceOf(error, PayloadInvalid)
    assert.deepStrictEqual(
      [error.taskName, error.reason, error.detail],
      ["echo", "not-cloneable", "the payload cannot be sent to a worker: Error: getter"]
    )
    // The call rejected made room: the queued one goes out at once.
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 3])
    assert.strictEqual(workers[0]!.records().length, 2, "nothing else reached the worker")
    assert.isFalse(workers[0]!.terminated)
  })

  it("after a split, the start log is read against the runs that did leave", async () => {
    const run = async (taken: number) => {
      const pool = setup({ concurrentTasksPerWorker: 8 })
      pool.workers[0]!.ready()
      pool.call({ payload: "a", trace: ["t", "s"] })
      pool.submit(() => "not cloneable")
      pool.submit("c")
      await flushMicrotasks()
      // Sent one record a message, none empty.
      assert.strictEqual(pool.workers[0]!.transfers.length, pool.workers[0]!.records().length)
      pool.submit("d")
      await flushMicrotasks()
      pool.workers[0]!.taken = taken
      pool.workers[0]!.events.onExit(1, null)
      return pool
    }
    // Three runs left: a, c and d, numbered 1 to 3.
    const two = await run(2)
    assert.deepStrictEqual(two.exits.map((exit) => failure(exit)?._tag), [
      "PayloadInvalid",
      "WorkerCrashed",
      "WorkerCrashed"
    ])
    assert.strictEqual(two.engine.stats().redispatched, 1)
    const one = await run(1)
    assert.strictEqual(one.engine.stats().redispatched, 2)
  })

  it("a transport that takes no message at all stops its worker; its calls go to another one", async () => {
    const { engine, events, exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    workers[0]!.sendFails = true
    workers[0]!.sendError = new Error("channel closed")
    submit("a")
    submit("b")
    await flushMicrotasks()
    assert.isTrue(workers[0]!.terminated)
    assert.strictEqual(exits.length, 0)
    workers[0]!.taken = 0
    workers[0]!.events.onExit(null, null)
    assert.strictEqual(crashes(events).length, 0)
    assert.strictEqual(engine.stats().redispatched, 2)
    workers[1]!.ready()
    await flushMicrotasks()
    workers[1]!.answerAll()
    assert.deepStrictEqual(exits.map(success), ["a", "b"])
  })

  it("a broken transport's calls that had started fail as terminated, with the send error", async () => {
    const { exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    workers[0]!.sendFails = true
    workers[0]!.sendError = new Error("channel closed")
    submit("b")
    await flushMicrotasks()
    workers[0]!.taken = 1
    workers[0]!.events.onExit(null, null)
    assert.strictEqual(exits.length, 1)
    const error = failure(exits[0]) as WorkerCrashed
    assert.deepStrictEqual(
      [error.reason, error.detail],
      ["terminated", "sending to the worker failed: Error: channel closed; this call had started on it"]
    )
  })
})

describe("what the pool reports", () => {
  it("QueueFull when the queue is at capacity and its overflow is fail, with the call's priority", async () => {
    const { call, engine, exits, workers } = setup({ concurrentTasksPerWorker: 1 }, {
      queue: { capacity: 1, overflow: "fail" }
    })
    workers[0]!.ready()
    assert.isDefined(call({ payload: "running" }))
    assert.isDefined(call({ payload: "queued" }))
    assert.isUndefined(call({ payload: "rejected", priority: 0 }))
    const error = failure(exits[0]) as QueueFull
    assert.instanceOf(error, QueueFull)
    assert.deepStrictEqual([error.capacity, error.priority], [1, "critical"])
    assert.isUndefined(call({ payload: "rejected too" }))
    assert.strictEqual((failure(exits[1]) as QueueFull).priority, "normal")
    assert.deepStrictEqual(
      [engine.stats().rejectedFull, engine.stats().failed, engine.statsOf("echo").failed, engine.stats().queued],
      [2, 2, 2, 1]
    )
  })

  it("counts per task name, and tells onNewTask once per name", () => {
    const seen: Array<TaskStats> = []
    const engine = new Engine({
      config: Schema.decodeUnknownSync(PoolConfig)({ minWorkers: 1, maxWorkers: 1 }),
      spawner: () => {
        throw new Error("not started in this spec")
      },
      onNewTask: (stats) => seen.push(stats)
    })
    const stats = engine.statsOf("a")
    assert.strictEqual(engine.statsOf("a"), stats)
    engine.rejected("a")
    engine.rejected("b")
    assert.deepStrictEqual(seen.map((s) => s.name), ["a", "b"])
    assert.deepStrictEqual([engine.stats().failed, stats.failed, engine.statsOf("b").failed], [2, 1, 1])
    assert.isUndefined(engine.rejection())
  })

  it("wait and run times, and the share of time the workers were busy", async () => {
    useClock()
    tick(1_000) // so that no time is 0
    const { engine, submit, workers } = setup({ terminationGrace: 100 })
    submit("a")
    tick(30)
    workers[0]!.ready()
    tick(20)
    await flushMicrotasks()
    workers[0]!.answerAll()
    assert.deepStrictEqual([engine.waitTime.count, engine.waitTime.sum], [1, 30])
    assert.deepStrictEqual([engine.runTime.count, engine.runTime.sum], [1, 20])
    // Recorded in milliseconds, reported in seconds: 30 ms falls in the bucket up to 0.05 s.
    const buckets = engine.waitTime.state().buckets
    assert.deepStrictEqual(buckets.find(([, count]) => count > 0)?.[0], 0.05)
    assert.deepStrictEqual(engine.runTime.state().buckets.find(([, count]) => count > 0)?.[0], 0.05)
    tick(50)
    assert.strictEqual(engine.stats().utilisation, 20 / 100)
    // A worker terminated with a call running was busy until it was stopped (at 300 ms), not until it exited.
    submit("stuck", 100)
    tick(200)
    assert.isTrue(workers[0]!.terminated)
    tick(200)
    workers[0]!.events.onExit(null, "SIGTERM")
    // Worker 1: busy 20 + 200 ms of 500; its replacement, started at 300 ms: idle for 200 ms.
    assert.closeTo(engine.stats().utilisation, 220 / 700, 1e-9)
  })

  it("what a handler traced and logged is replayed as its caller resumes, with the task and the worker", async () => {
    const { exits, submit, workers } = setup()
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    workers[0]!.events.onMessage([
      OP_TELEMETRY,
      1,
      { spans: [], logs: [], droppedSpans: 0, droppedLogs: 1 },
      0,
      OP_SUCCESS,
      1,
      "a",
      0
    ])
    const outcome = exits[0] as unknown as Effect.Effect<string>
    assert.isFalse(Exit.isExit(outcome), "an Effect that replays, then is the Exit")
    const lines: Array<Record<string, unknown>> = []
    const logger = Logger.make(({ fiber }) => void lines.push({ ...fiber.getRef(References.CurrentLogAnnotations) }))
    const value = Effect.runSync(outcome.pipe(Effect.provide(Logger.layer([logger]))))
    assert.strictEqual(value, "a")
    assert.deepStrictEqual(lines, [{ task: "echo", workerId: 1 }])
  })

  it("the last boot error is absent while no boot failed", () => {
    const { engine, workers } = setup()
    workers[0]!.ready()
    assert.isUndefined(engine.stats().lastBootError)
    assert.strictEqual(engine.stats().bootFailures, 0)
  })
})

describe("more rules of placement and scaling", () => {
  it("a respawn due when a drain begins starts no worker if nothing is queued", async () => {
    useClock()
    const { engine, submit, workers } = setup({ minWorkers: 2, maxWorkers: 2 })
    workers[0]!.ready()
    workers[1]!.ready()
    submit("a")
    submit("b")
    await flushMicrotasks()
    workers[0]!.events.onExit(1, null) // a respawn is due in 50 ms
    engine.shutdown(() => {})
    tick(1_000)
    assert.strictEqual(workers.length, 2, "the drain waits for call b alone")
  })

  it("a crash while draining, with nothing queued, starts no worker even below minWorkers", async () => {
    useClock()
    const { engine, submit, workers } = setup({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    workers[1]!.ready()
    for (let i = 0; i < 4; i++) submit(i)
    await flushMicrotasks()
    assert.strictEqual(workers[1]!.runIds().length, 2)
    engine.shutdown(() => {})
    workers[0]!.events.onExit(1, null) // worker 2 still has two calls, which need no second worker
    tick(1_000)
    assert.strictEqual(workers.length, 2)
  })

  it("the calls of a worker being terminated do not count as load", async () => {
    useClock()
    const { engine, submit, workers } = setup({
      minWorkers: 1,
      maxWorkers: 3,
      concurrentTasksPerWorker: 4,
      idleTimeout: 100,
      terminationGrace: 0
    })
    workers[0]!.ready()
    const cancelled = submit(1)
    submit(2)
    submit(3)
    workers[1]!.ready()
    workers[2]!.ready()
    submit(4) // the pool is full: pipelined into worker 1
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 4])
    workers[1]!.answerAll()
    workers[2]!.answerAll()
    tick(100) // one of the idle workers stops; two calls in flight keep two workers
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [false, true, false])
    assert.strictEqual(workers.length, 3, "and none is started again at once")
    engine.cancel(cancelled) // worker 1 is terminated, with call 4 still on it
    assert.isTrue(workers[0]!.terminated)
    assert.strictEqual(workers.length, 3, "worker 3 is enough: the calls of the dying one do not count")
  })

  it("a new call never overtakes one queued before it, even when it would fit where that one does not", async () => {
    const { call, engine, workers } = setup({ concurrentTasksPerWorker: 64 })
    workers[0]!.ready()
    call({ payload: "small" })
    const big = new ArrayBuffer(pipelineBytes * 2)
    call({ payload: big, transfer: [big] }) // waits for an idle worker
    call({ payload: "after" })
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1])
    assert.strictEqual(engine.stats().queued, 2)
  })

  it("a light call pipelined behind another starts its timeout when it is sent", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    engine.statsOf("echo").cpuMillis = 2 // two of them fill the 4 ms budget exactly
    submit("first")
    submit("second", 100)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 2])
    tick(100)
    assert.instanceOf(failure(exits[0]), TaskTimeout)
  })

  it("a worker is busy from its first call in flight to its last answer", async () => {
    useClock()
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    submit("a")
    tick(10)
    submit("b")
    await flushMicrotasks()
    tick(10)
    workers[0]!.answer([1])
    tick(30)
    workers[0]!.answer([2])
    tick(50)
    assert.strictEqual(engine.stats().utilisation, 50 / 100)
    // A crash ends its busy time; an idle worker stopped later adds none.
    submit("c")
    await flushMicrotasks()
    tick(50)
    workers[0]!.events.onExit(1, null) // busy 100 of 150 ms
    tick(50)
    workers[1]!.ready()
    tick(50)
    engine.shutdown(() => {})
    workers[1]!.events.onExit(null, null) // idle for its 50 ms
    assert.strictEqual(engine.stats().utilisation, 100 / 200)
  })

  it("a batch posted early by an answer is not posted again, empty, at the end of the tick", async () => {
    const { submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    submit("b") // its batch is due at the end of this tick…
    workers[0]!.answer([1]) // …but leaves with this answer's refill
    await flushMicrotasks()
    assert.strictEqual(workers[0]!.transfers.length, 2, "two messages: call a's, then call b's")
    assert.deepStrictEqual(workers[0]!.runIds(), [2])
  })

  it("calls sent one by one after a split keep their buffers, and a span record goes without them", async () => {
    const { call, exits, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    const buffer = new ArrayBuffer(8)
    call({ payload: buffer, transfer: [buffer], trace: ["t", "s"] })
    call({ payload: () => 0 })
    await flushMicrotasks()
    assert.strictEqual(exits.length, 1)
    assert.deepStrictEqual(workers[0]!.records().map((record) => record[0]), [OP_TRACE, OP_RUN])
    assert.deepStrictEqual(workers[0]!.transfers, [undefined, [buffer]])
  })
})

describe("more rules of lifecycles", () => {
  it("a running call cancelled twice gets one interrupt, and is never told to skip", async () => {
    const { engine, submit, workers } = setup({ terminationGrace: 500 })
    workers[0]!.ready()
    const running = submit("running")
    await flushMicrotasks()
    engine.cancel(running)
    engine.cancel(running)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.records().filter((record) => record[0] === OP_INTERRUPT), [[
      OP_INTERRUPT,
      1,
      0,
      0
    ]])
    assert.deepStrictEqual(workers[0]!.skipped, [])
  })

  it("the buffers of a batch are those of its calls that move some", async () => {
    const { call, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    const buffer = new ArrayBuffer(8)
    call({ payload: buffer, transfer: [buffer] })
    call({ payload: "plain" })
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.transfers, [[buffer]])
  })

  it("answers teach the pool a task's cost: a task that turns out CPU-bound is no longer pipelined", async () => {
    cores.spare = false // no call waits behind a running one (see Placement.canWait)
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 8 })
    const worker = workers[0]!
    worker.ready()
    worker.cpuMillis = 50
    submit("a")
    await flushMicrotasks()
    worker.answerAll()
    assert.strictEqual(engine.statsOf("echo").cpuMillis, 25)
    submit("b")
    submit("c")
    await flushMicrotasks()
    assert.deepStrictEqual(worker.runIds(), [2])
    assert.strictEqual(engine.stats().queued, 1)
  })

  it("a worker retired after maxTasksPerWorker that dies meanwhile fails its running calls as terminated", async () => {
    const { exits, submit, workers } = setup({ maxTasksPerWorker: 1, concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    submit("a")
    submit("b")
    await flushMicrotasks()
    workers[0]!.answer([1])
    workers[0]!.events.onExit(1, null)
    const error = failure(exits[1]) as WorkerCrashed
    assert.deepStrictEqual([error.reason, error.detail], ["terminated", "ran 1 tasks; this call had started on it"])
  })

  it("the answer of a call that timed out is not a run time", async () => {
    useClock()
    const { engine, submit, workers } = setup({ terminationGrace: 500 })
    workers[0]!.ready()
    submit("slow", 100)
    await flushMicrotasks()
    tick(100)
    workers[0]!.answer([1], 3 /* OP_INTERRUPTED */)
    assert.strictEqual(engine.runTime.count, 0)
  })

  it("WorkerReplaced is told once per crashed worker, not for workers started for load", async () => {
    useClock()
    const { events, submit, workers } = setup({ minWorkers: 1, maxWorkers: 3 })
    workers[0]!.ready()
    workers[0]!.events.onExit(1, null)
    tick(50)
    workers[1]!.ready()
    submit("a")
    submit("b")
    tick(50) // still after the backoff of the crash
    assert.strictEqual(workers.length, 3)
    workers[2]!.ready()
    assert.deepStrictEqual(events.filter((event) => event._tag === "WorkerReplaced"), [{
      _tag: "WorkerReplaced",
      workerId: 2
    }])
  })

  it("idle workers are not stopped as idle while the pool drains", async () => {
    useClock()
    const { engine, submit, workers } = setup({ minWorkers: 1, maxWorkers: 2, idleTimeout: 100 })
    workers[0]!.ready()
    submit("a")
    submit("b")
    workers[1]!.ready()
    await flushMicrotasks()
    workers[1]!.answerAll()
    engine.shutdown(() => {})
    tick(1_000)
    assert.deepStrictEqual(workers.map((worker) => worker.closed), [false, false])
  })

  it("once up, boots that fail while another replacement still boots fail the queued calls: none is ready", async () => {
    useClock()
    const { engine, exits, submit, workers } = setup({ minWorkers: 2, maxWorkers: 2, maxBootFailures: 1 })
    workers[0]!.ready()
    workers[1]!.ready()
    workers[0]!.events.onExit(1, null)
    workers[1]!.events.onExit(1, null)
    submit("waits")
    tick(100) // crashes in a row: the first replacement after 100 ms, the second 100 ms later
    tick(100)
    assert.strictEqual(workers.length, 4)
    workers[2]!.events.onExit(1, null) // worker 4 still boots
    assert.instanceOf(failure(exits[0]), WorkerBootFailed)
    assert.instanceOf(engine.rejection(), WorkerBootFailed)
    workers[3]!.ready()
    assert.isUndefined(engine.rejection())
  })

  it("a send that throws no error at all is reported as such", async () => {
    const { exits, submit, workers } = setup({ concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    submit("a")
    await flushMicrotasks()
    workers[0]!.sendFails = true
    submit("b")
    await flushMicrotasks()
    workers[0]!.taken = 1
    workers[0]!.events.onExit(null, null)
    assert.strictEqual(
      (failure(exits[0]) as WorkerCrashed).detail,
      "sending to the worker failed: no error reported; this call had started on it"
    )
  })

  it("a worker error of null is no error: the boot failure says how the worker exited", () => {
    const { events, workers } = setup({ maxBootFailures: 5 })
    workers[0]!.events.onError(null)
    workers[0]!.events.onExit(1, null)
    assert.strictEqual(
      (bootFailures(events)[0]!.cause as Error).message,
      "the worker exited with code 1 before it was ready (does its entry call serve()?)"
    )
  })

  it("shutting down while the first worker boots: queued calls wait for the deadline, then fail with PoolShutDown", () => {
    useClock()
    const { engine, exits, submit } = setup({ bootTimeout: 1_000, shutdownDeadline: 5_000 })
    submit("waits")
    engine.shutdown(() => {})
    tick(1_000)
    assert.strictEqual(exits.length, 0, "the start deadline does not break a pool that is shutting down")
    tick(4_000)
    assert.instanceOf(failure(exits[0]), PoolShutDown)
  })
})

describe("respawns", () => {
  it("a respawn that comes due after the load has gone starts no worker", async () => {
    useClock()
    const { submit, workers } = setup({ minWorkers: 1, maxWorkers: 2, concurrentTasksPerWorker: 4 })
    workers[0]!.ready()
    for (let i = 0; i < 2; i++) submit(i)
    workers[1]!.ready()
    for (let i = 0; i < 2; i++) submit(i)
    await flushMicrotasks()
    assert.deepStrictEqual(workers.map((worker) => worker.runIds()), [[1, 3], [2, 4]])
    workers[0]!.events.onExit(1, null) // worker 2 still has two calls: a second worker is due in 50 ms
    workers[1]!.answerAll()
    tick(1_000)
    assert.strictEqual(workers.length, 2, "one worker is enough for no load")
  })
})
