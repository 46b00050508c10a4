// The dispatcher against scripted workers: what goes over the wire, in which batches, and when workers are
// started again. Real-worker specs cover the same behaviours end to end; these pin the protocol details.
import { afterEach, assert, describe, it, vi } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { PoolConfig } from "../../src/domain/Config.ts"
import { TaskTimeout, WorkerBootFailed, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import { synchronousAfter } from "../../src/runtime/pool/Call.ts"
import { pipelineBytes } from "../../src/runtime/pool/Placement.ts"
import { OP_INTERRUPT, OP_INTERRUPTED } from "../../src/runtime/wire/Protocol.ts"
import { cores, failure, FakeWorker, flushMicrotasks, setup, submitCall, success } from "./FakeWorker.ts"

afterEach(() => {
  vi.useRealTimers()
  FakeWorker.canSkip = true
  FakeWorker.hasStartLog = true
  cores.spare = true
})

describe("WorkerDispatch engine", () => {
  it("calls made in one tick leave as one message, and one answer batch settles them all", async () => {
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 64 })
    workers[0]!.ready()
    for (let i = 0; i < 50; i++) submit(i)
    assert.strictEqual(workers[0]!.sent.length, 0, "nothing is sent synchronously")
    await flushMicrotasks()
    assert.strictEqual(workers[0]!.sent.length, 1)
    assert.strictEqual(workers[0]!.sent[0]!.length, 50 * 4)
    workers[0]!.answerAll()
    assert.deepStrictEqual(
      exits.map((e) => Exit.isSuccess(e) ? e.value : undefined),
      Array.from({ length: 50 }, (_, i) => i)
    )
    assert.strictEqual(engine.stats().completed, 50)
  })

  it("an answer refills the worker before its caller resumes", async () => {
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 1 })
    workers[0]!.ready()
    let queuedWhenResumed: number | undefined
    let postedWhenResumed: ReadonlyArray<number> | undefined
    submitCall(engine, { name: "echo", index: 0, payload: "first", timeoutMillis: 0 }, () => {
      queuedWhenResumed = engine.stats().queued
      postedWhenResumed = workers[0]!.runIds()
    })
    submit("second")
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1])
    workers[0]!.answerAll()
    assert.strictEqual(queuedWhenResumed, 0, "the second call was dispatched before the first caller resumed")
    // Posted too, not left for the end of the microtask queue (which the caller's continuation would run first).
    assert.deepStrictEqual(postedWhenResumed, [2])
  })

  it("a call waiting for the first worker is posted to it before the pool starts the other workers", async () => {
    let postedWhenSecondSpawned: ReadonlyArray<number> | undefined
    const { submit, workers } = setup({ minWorkers: 2, maxWorkers: 2 }, {
      onSpawn: (spawned) => {
        if (spawned.length === 1) postedWhenSecondSpawned = spawned[0]!.runIds()
      }
    })
    submit("first")
    await flushMicrotasks()
    assert.strictEqual(workers.length, 1, "one worker boots first")
    workers[0]!.ready()
    // Starting a thread takes the main thread about a millisecond, which the first call should not wait for.
    assert.deepStrictEqual(postedWhenSecondSpawned, [1])
  })

  it("keeps at most concurrentTasksPerWorker calls in flight per worker and sends the rest in FIFO order", async () => {
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 3 })
    workers[0]!.ready()
    for (let i = 0; i < 7; i++) submit(i)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3])
    assert.strictEqual(engine.stats().queued, 4)
    workers[0]!.answerAll()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [4, 5, 6])
  })

  describe("pipelineDepth", () => {
    /** `setup` taught the pool one answer of "echo"; this makes it known to complete synchronously. */
    const teachSynchronous = (engine: ReturnType<typeof setup>["engine"], name = "echo") => {
      for (let i = 1; i < synchronousAfter; i++) engine.statsOf(name).record(0)
      assert.isTrue(engine.statsOf(name).synchronous)
    }
    /** One ready worker with that depth and cap, "echo" known to complete synchronously. */
    const synchronousSetup = (concurrentTasksPerWorker: number, pipelineDepth: number) => {
      const pool = setup({ concurrentTasksPerWorker, pipelineDepth })
      pool.workers[0]!.ready()
      teachSynchronous(pool.engine)
      return pool
    }

    it("calls of a task known to complete synchronously fill a busy worker to pipelineDepth, not further", async () => {
      const { engine, submit, workers } = synchronousSetup(3, 10)
      for (let i = 0; i < 15; i++) submit(i)
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), Array.from({ length: 10 }, (_, i) => i + 1))
      assert.strictEqual(engine.stats().queued, 5)
      workers[0]!.answerAll()
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [11, 12, 13, 14, 15])
    })

    it("one answer short of synchronousAfter in a row, a task stays at concurrentTasksPerWorker", async () => {
      const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 3, pipelineDepth: 10 })
      workers[0]!.ready()
      for (let i = 2; i < synchronousAfter; i++) engine.statsOf("echo").record(0)
      assert.isFalse(engine.statsOf("echo").synchronous)
      for (let i = 0; i < 15; i++) submit(i)
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3])
    })

    it("an answer from a handler that suspended takes its task back to concurrentTasksPerWorker", async () => {
      const { engine, submit, workers } = synchronousSetup(3, 10)
      submit("first")
      await flushMicrotasks()
      workers[0]!.cpuMillis = -0.01 // as the worker reports a call that suspended (`suspendedCpu`)
      workers[0]!.answerAll()
      assert.isFalse(engine.statsOf("echo").synchronous)
      for (let i = 0; i < 15; i++) submit(i)
      await flushMicrotasks()
      assert.strictEqual(workers[0]!.runIds().length, 3)
      assert.strictEqual(engine.statsOf("echo").cpuMillis! >= 0, true, "its estimate stays a positive time")
    })

    it("a call of a task that may suspend does not join a worker holding concurrentTasksPerWorker calls", async () => {
      const { call, engine, submit, workers } = synchronousSetup(3, 10)
      engine.statsOf("wait").record(-0.01)
      for (let i = 0; i < 5; i++) submit(i)
      call({ name: "wait", index: 1, payload: "w" })
      submit("after")
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3, 4, 5], "the queue keeps its order: 'after' waits too")
      assert.strictEqual(engine.stats().queued, 2)
    })

    it("a worker without a start log gets no more than concurrentTasksPerWorker calls", async () => {
      FakeWorker.hasStartLog = false
      const { submit, workers } = synchronousSetup(3, 10)
      for (let i = 0; i < 15; i++) submit(i)
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3])
    })

    it("refills for a worker with a batch's worth of calls still to answer leave together, at the end of the turn", async () => {
      const { submit, workers } = synchronousSetup(4, 32)
      for (let i = 0; i < 60; i++) submit(i)
      await flushMicrotasks()
      assert.strictEqual(workers[0]!.sent.length, 1)
      assert.strictEqual(workers[0]!.runIds().length, 32)
      // Two answer messages of 4 each, as a worker posts them while it works through its pipe.
      workers[0]!.answer([1, 2, 3, 4])
      workers[0]!.answer([5, 6, 7, 8])
      await Promise.resolve()
      assert.strictEqual(workers[0]!.sent.filter((batch) => batch.length > 0).length, 1, "no refill yet")
      await new Promise<void>((resolve) => setImmediate(resolve))
      const refills = workers[0]!.sent.slice(1)
      assert.strictEqual(refills.length, 1, "one message for both refills")
      assert.strictEqual(refills[0]!.length / 4, 8)
      // Below a batch's worth still to answer, the worker may run dry: its refill leaves at once.
      workers[0]!.answer(workers[0]!.runIds().slice(0, 29))
      assert.strictEqual(workers[0]!.sent.length, 3, "posted before the answer's handling returned")
    })

    it("a crash in a deep pipeline fails the calls that had started; the rest run on the next worker", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] })
      const { engine, exits, submit, workers } = synchronousSetup(4, 32)
      for (let i = 0; i < 30; i++) submit(i)
      await flushMicrotasks()
      assert.strictEqual(workers[0]!.runIds().length, 30)
      workers[0]!.taken = 3 // it had taken up three run records: the third crashed it
      workers[0]!.events.onExit(1, null)
      assert.strictEqual(exits.length, 3)
      for (const exit of exits) assert.instanceOf(failure(exit), WorkerCrashed)
      assert.strictEqual(engine.stats().redispatched, 27)
      vi.advanceTimersByTime(50) // the first respawn's backoff
      workers[1]!.ready()
      await flushMicrotasks()
      assert.deepStrictEqual(workers[1]!.runIds().length, 27)
      workers[1]!.answerAll()
      assert.deepStrictEqual(exits.slice(3).map(success), Array.from({ length: 27 }, (_, i) => i + 3))
    })
  })

  it("a busy worker gets at most pipelineBytes of moved buffers; a bigger call waits for it to be idle", async () => {
    const { engine, exits, workers } = setup({ concurrentTasksPerWorker: 64 })
    workers[0]!.ready()
    const quarter = pipelineBytes / 4
    const submitMoving = (bytes: number) => {
      const buffer = new ArrayBuffer(bytes)
      return submitCall(
        engine,
        { name: "echo", index: 0, payload: buffer, transfer: [buffer], timeoutMillis: 0 },
        (exit) => {
          exits.push(exit as Exit.Exit<unknown, unknown>)
        }
      )
    }
    for (let i = 0; i < 6; i++) submitMoving(quarter) // four fit, two wait
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 2, 3, 4])
    assert.strictEqual(engine.stats().queued, 2)
    workers[0]!.answerAll()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [5, 6])
    workers[0]!.answerAll()
    // Alone, a call larger than the budget still goes to an idle worker.
    submitMoving(pipelineBytes * 2)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [7])
    assert.strictEqual(engine.stats().queued, 0)
  })

  it("a queued call that is cancelled is never sent", async () => {
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 1 })
    workers[0]!.ready()
    submit("a")
    const b = submit("b")
    submit("c")
    engine.cancel(b)
    assert.strictEqual(engine.stats().queued, 1)
    await flushMicrotasks()
    workers[0]!.answerAll()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [3])
  })

  it("a call is the effect that cancels it: nothing happens until it runs, then a queued one leaves the queue and a running one is interrupted", async () => {
    const { engine, exits, submit, workers } = setup({ concurrentTasksPerWorker: 1 })
    workers[0]!.ready()
    const running = submit("running")
    const queued = submit("queued")
    await flushMicrotasks()
    assert.isTrue(Effect.isEffect(queued))
    assert.strictEqual(engine.stats().queued, 1, "holding the effect cancels nothing")
    Effect.runSync(queued)
    assert.strictEqual(engine.stats().queued, 0)
    Effect.runSync(running)
    await flushMicrotasks()
    const last = workers[0]!.sent.at(-1)!
    assert.deepStrictEqual([last[0], last[1]], [OP_INTERRUPT, running.id])
    assert.deepStrictEqual(workers[0]!.runIds(), [running.id])
    // Neither caller is resumed: they are gone; the worker's confirmation is taken and dropped.
    workers[0]!.answer([running.id], OP_INTERRUPTED)
    await flushMicrotasks()
    assert.strictEqual(exits.length, 0)
    assert.deepStrictEqual(workers[0]!.runIds(), [], "the cancelled queued call is not sent to the freed worker")
  })

  it("a running call that is cancelled gets an interrupt message, then its worker is terminated after the grace period", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] })
    const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 2, terminationGrace: 500 })
    workers[0]!.ready()
    const stuck = submit("stuck")
    submit("innocent")
    await flushMicrotasks()
    engine.cancel(stuck)
    await flushMicrotasks()
    const last = workers[0]!.sent.at(-1)!
    assert.deepStrictEqual([last[0], last[1]], [OP_INTERRUPT, 1])
    vi.advanceTimersByTime(499)
    assert.isFalse(workers[0]!.terminated)
    vi.advanceTimersByTime(1)
    assert.isTrue(workers[0]!.terminated)
    // Until it has exited, the worker may still start the innocent call: it stays where it is.
    assert.strictEqual(engine.stats().queued, 0)
    assert.strictEqual(engine.stats().redispatched, 0)
    // Its start log says it never started it: the innocent call is queued again, not failed.
    workers[0]!.taken = 1
    workers[0]!.events.onExit(null, null)
    assert.strictEqual(engine.stats().queued, 1)
    assert.strictEqual(engine.stats().redispatched, 1)
    workers[1]!.ready()
    await flushMicrotasks()
    assert.deepStrictEqual(workers[1]!.runIds(), [2])
  })

  it("replaces crashed workers with exponential backoff; once up, failed boots never break the pool", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] })
    const { bootResult, engine, exits, submit, workers } = setup({ maxBootFailures: 2 })
    workers[0]!.ready()
    assert.isUndefined(bootResult())
    submit("lost")
    await flushMicrotasks()
    workers[0]!.events.onExit(7, null) // crash after boot
    const crash = exits[0]!
    assert.isTrue(Exit.isFailure(crash))
    submit("waits") // queued until a worker is ready
    vi.advanceTimersByTime(49)
    assert.strictEqual(workers.length, 1, "no respawn before the first backoff (50 ms)")
    vi.advanceTimersByTime(1)
    assert.strictEqual(workers.length, 2)
    workers[1]!.events.onError(new Error("cannot boot"))
    workers[1]!.events.onExit(1, null) // failed boot: backoff doubles
    vi.advanceTimersByTime(99)
    assert.strictEqual(workers.length, 2)
    vi.advanceTimersByTime(1)
    assert.strictEqual(workers.length, 3)
    workers[2]!.events.onError(new Error("cannot boot"))
    workers[2]!.events.onExit(1, null) // second failed boot in a row, and no worker ready: calls fail
    const waited = exits[1]!
    assert.isTrue(Exit.isFailure(waited))
    const error = (waited as Exit.Failure<unknown, unknown>).cause.reasons[0]
    assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, WorkerBootFailed)
    assert.instanceOf(engine.rejection(), WorkerBootFailed)
    assert.strictEqual(engine.stats().bootFailures, 2)
    assert.include(engine.stats().lastBootError, "cannot boot")
    // It keeps trying, with a backoff capped at 5 s: 200, 400, ... 5000 ms.
    for (let i = 3; i < 8; i++) {
      vi.advanceTimersByTime(5_000)
      assert.strictEqual(workers.length, i + 1, `respawn ${i}`)
      workers[i]!.events.onExit(1, null)
    }
    vi.advanceTimersByTime(5_000)
    workers[8]!.ready()
    assert.isUndefined(engine.rejection(), "a worker is ready: calls are taken again")
    const first = (crash as Exit.Failure<unknown, unknown>).cause.reasons[0]
    assert.instanceOf(first?._tag === "Fail" ? first.error : undefined, WorkerCrashed)
  })

  it("CPU-bound calls only go to idle workers; light calls are pipelined, but not behind a CPU-bound one", async () => {
    const { engine, submit, workers } = setup({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 8 })
    workers[0]!.ready()
    workers[1]!.ready()
    engine.statsOf("echo").record(50) // 50 ms of CPU per call, as a worker would report
    for (let i = 0; i < 4; i++) submit(i)
    await flushMicrotasks()
    assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[1], [2]])
    assert.strictEqual(engine.stats().queued, 2)
    // The task turns out cheap: its average falls under the threshold, answer after answer.
    for (let i = 0; i < 30; i++) engine.statsOf("echo").record(0.01)
    workers[0]!.answerAll()
    await flushMicrotasks()
    // Worker 0 is idle and takes both queued calls (pipelined); worker 1 still runs a CPU-bound call.
    assert.deepStrictEqual(workers[0]!.runIds(), [3, 4])
    assert.deepStrictEqual(workers[1]!.runIds(), [2])
  })

  describe("a CPU-bound call waiting in a busy worker", () => {
    /** Two ready workers, a task of 50 ms, and `n` calls of it. */
    const busyPool = async (n: number, config: Partial<PoolConfig> = {}) => {
      const pool = setup({ minWorkers: 2, maxWorkers: 2, concurrentTasksPerWorker: 8, ...config })
      for (const worker of pool.workers) {
        worker.ready()
        worker.cpuMillis = 50
      }
      pool.engine.statsOf("echo").record(50)
      for (let i = 0; i < n; i++) pool.submit(i)
      await flushMicrotasks()
      return pool
    }

    it("a worker running one gets the next to wait behind it, while as many stay queued as other workers", async () => {
      const { engine, workers } = await busyPool(6)
      assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[1], [2]])
      workers[0]!.answer([1])
      await flushMicrotasks()
      // Worker 0 takes call 3 (idle); calls 4 and 5 wait, one behind each running call; call 6 stays queued
      // for whichever worker is free first.
      assert.deepStrictEqual(workers[0]!.runIds()[0], 3)
      assert.deepStrictEqual([...workers[0]!.runIds(), ...workers[1]!.runIds()].sort(), [2, 3, 4, 5])
      assert.deepStrictEqual([workers[0]!.runIds().length, workers[1]!.runIds().length], [2, 2])
      assert.strictEqual(engine.stats().queued, 1)
    })

    it("not while the machine has no core to spare: the worker idles until this thread sends the next", async () => {
      cores.spare = false
      const { engine, workers } = await busyPool(6)
      workers[0]!.answer([1])
      await flushMicrotasks()
      assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[3], [2]])
      assert.strictEqual(engine.stats().queued, 3)
      cores.spare = true
      workers[1]!.answer([2])
      await flushMicrotasks()
      assert.strictEqual(workers[1]!.runIds()[0], 4)
      // With a core to spare again, call 5 waits behind a running one; call 6 stays queued.
      assert.deepStrictEqual([...workers[0]!.runIds(), ...workers[1]!.runIds()].sort(), [3, 4, 5])
      assert.strictEqual(engine.stats().queued, 1)
    })

    it("not at the end of a burst, when the other workers would run out of calls first", async () => {
      const { engine, workers } = await busyPool(4)
      workers[0]!.answer([1])
      await flushMicrotasks()
      assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[3], [2]])
      assert.strictEqual(engine.stats().queued, 1)
    })

    it("not behind a much longer call", async () => {
      const { engine, submit, workers } = setup({ concurrentTasksPerWorker: 8 })
      workers[0]!.ready()
      engine.statsOf("echo").record(50)
      submit("long")
      for (let i = 0; i < 10; i++) engine.statsOf("echo").record(5) // the task turns out about 5 ms
      submit("short")
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [1])
      assert.strictEqual(engine.stats().queued, 1)
    })

    it("not where the worker cannot be told to skip a call (child processes)", async () => {
      FakeWorker.canSkip = false
      const { engine, workers } = await busyPool(6)
      workers[0]!.answer([1])
      await flushMicrotasks()
      assert.deepStrictEqual([workers[0]!.runIds(), workers[1]!.runIds()], [[3], [2]])
      assert.strictEqual(engine.stats().queued, 3)
    })

    it("its timeout starts when it starts", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] })
      const { engine, exits, submit, workers } = setup()
      workers[0]!.ready()
      engine.statsOf("echo").record(50)
      submit("first")
      submit("second", 100)
      await flushMicrotasks()
      assert.deepStrictEqual(workers[0]!.runIds(), [1, 2])
      vi.advanceTimersByTime(1_000)
      assert.strictEqual(exits.length, 0, "waiting does not count against its timeout")
      workers[0]!.answer([1])
      vi.advanceTimersByTime(99)
      assert.strictEqual(exits.length, 1)
      vi.advanceTimersByTime(1)
      const timedOut = exits[1] as Exit.Failure<unknown, unknown>
      const reason = timedOut.cause.reasons[0]
      assert.instanceOf(reason?._tag === "Fail" ? reason.error : undefined, TaskTimeout)
    })

    it("cancelled, its worker is told to skip it; the worker is terminated only if it starts anyway and does not stop", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] })
      const { engine, submit, workers } = setup({ terminationGrace: 500 })
      const worker = workers[0]!
      worker.ready()
      worker.cpuMillis = 50
      engine.statsOf("echo").record(50)
      submit("first")
      const skipped = submit("skipped")
      await flushMicrotasks()
      engine.cancel(skipped)
      await flushMicrotasks()
      assert.deepStrictEqual(worker.skipped, [2], "told to skip it")
      const last = worker.sent.at(-1)!
      assert.deepStrictEqual([last[0], last[1]], [OP_INTERRUPT, 2], "and to interrupt it, should it have started")
      vi.advanceTimersByTime(10_000)
      assert.isFalse(worker.terminated, "no grace period while the call ahead of it runs")
      // The worker had not started it: it answers that it skipped it.
      worker.answer([1])
      const estimate = engine.statsOf("echo").cpuMillis
      worker.answer([2], OP_INTERRUPTED)
      vi.advanceTimersByTime(10_000)
      assert.isFalse(worker.terminated)
      assert.strictEqual(engine.statsOf("echo").cpuMillis, estimate, "a skipped call does not lower the estimate")

      submit("third")
      const started = submit("started anyway")
      await flushMicrotasks()
      engine.cancel(started)
      worker.answer([3])
      vi.advanceTimersByTime(499)
      assert.isFalse(worker.terminated)
      vi.advanceTimersByTime(1)
      assert.isTrue(worker.terminated, "it started and did not stop within the grace period")
    })

    it("a crash fails the call that was running and sends the waiting one again", async () => {
      const { engine, exits, workers } = await busyPool(6)
      workers[0]!.answer([1])
      await flushMicrotasks()
      assert.strictEqual(workers[0]!.runIds().length, 2)
      const before = exits.length
      workers[0]!.taken = 2 // it started calls 1 and 2, not 3
      workers[0]!.events.onExit(7, null)
      assert.strictEqual(exits.length, before + 1, "only the running call fails")
      const crash = exits.at(-1) as Exit.Failure<unknown, unknown>
      const reason = crash.cause.reasons[0]
      assert.instanceOf(reason?._tag === "Fail" ? reason.error : undefined, WorkerCrashed)
      assert.strictEqual(engine.stats().redispatched, 1)
      assert.strictEqual(engine.stats().queued, 2)
    })
  })

  it("the first batch that cannot be cloned is split: only the bad call fails", async () => {
    const { exits, submit, workers } = setup({ concurrentTasksPerWorker: 8 })
    workers[0]!.ready()
    submit(1)
    submit(() => 2)
    submit(3)
    await flushMicrotasks()
    assert.deepStrictEqual(workers[0]!.runIds(), [1, 3])
    assert.strictEqual(exits.length, 1)
    const failure = exits[0] as Exit.Failure<unknown, { _tag: string; reason: string }>
    const reason = failure.cause.reasons[0]
    assert.strictEqual(reason?._tag === "Fail" ? reason.error.reason : undefined, "not-cloneable")
  })
})
