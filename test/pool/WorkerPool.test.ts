// Typed calls, errors across the boundary, bad input, pipelining and offload, on one shared pool of real
// worker threads. Specs that crash, terminate or break workers have pools of their own (other files).
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import {
  InvalidConfig,
  PayloadInvalid,
  PoolShutDown,
  UnknownTask,
  WorkerBootFailed
} from "../../src/domain/OrchestratorError.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Burn, Defect, Fib, FibTooBig, Inc, Liar, Lookup, NotFound, Sleep, Unserved, WhoAmI } from "./fixtures/tasks.ts"
import { eventually, teach, workerEntry } from "./helpers.ts"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const cause = (exit as Exit.Failure<A, E>).cause
  assert.isFalse(Cause.hasFails(cause), "expected no typed error")
  const die = cause.reasons.find((r) => r._tag === "Die")
  assert.isDefined(die, "expected a defect")
  return (die as Cause.Die).defect
}

layer(
  WorkerPool.layer({
    entry: workerEntry,
    name: "shared",
    minWorkers: 2,
    maxWorkers: 2,
    concurrentTasksPerWorker: 8
  }),
  { excludeTestServices: true, timeout: 60_000 }
)("WorkerPool (shared pool of 2 threads)", (it) => {
  describe("typed tasks", () => {
    it.effect("run returns the handler's success, decoded through the success schema", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* WorkerPool.run(Inc, 41), 42)
        assert.strictEqual(yield* WorkerPool.run(Fib, 20), 6765)
        const at = new Date("2026-01-02T03:04:05Z")
        const found = yield* WorkerPool.run(Lookup, { key: "abc", at })
        assert.strictEqual(found.key, "abc")
        assert.instanceOf(found.at, Date)
        assert.strictEqual(found.at.getTime(), at.getTime())
        assert.isTrue(Option.isOption(found.value))
        assert.deepStrictEqual(found.value, Option.some(3))
        const none = yield* WorkerPool.run(Lookup, { key: "none", at })
        assert.isTrue(Option.isNone(none.value))
      }))

    it.effect("calls run in parallel on both workers", () =>
      Effect.gen(function*() {
        // The layer is ready with its first worker; the second boots meanwhile.
        yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.workers === 2 && s.booting === 0)))
        // CPU-bound calls go to idle workers, one each: with two workers, two of them run at the same time. Told
        // by their own clocks (comparable across threads), not by which worker a later light call lands on,
        // which a loaded machine decides.
        const burns = yield* Effect.all(Array.from({ length: 4 }, () => WorkerPool.run(Burn, 40)), {
          concurrency: "unbounded"
        })
        const sorted = [...burns].sort((a, b) => a.startedAt - b.startedAt)
        const overlapping = sorted.some((burn, i) => i > 0 && burn.startedAt < sorted[i - 1]!.endedAt)
        assert.isTrue(overlapping, `no two calls ran at once: ${JSON.stringify(sorted)}`)
        const who = yield* WorkerPool.run(WhoAmI)
        assert.isTrue(who.threadId > 0 && who.pid === process.pid)
        assert.strictEqual((yield* WorkerPool.stats).workerIds.length, 2)
      }))
  })

  describe("errors cross the boundary intact", () => {
    it.effect("a typed error arrives as the same class, with its fields and its cause", () =>
      Effect.gen(function*() {
        const error = failureOf(yield* Effect.exit(WorkerPool.run(Fib, 40)))
        assert.instanceOf(error, FibTooBig)
        assert.instanceOf(error, Error)
        assert.strictEqual(error._tag, "FibTooBig")
        assert.strictEqual((error as FibTooBig).n, 40)
        assert.strictEqual((error as FibTooBig).max, 35)
        const cause = (error as FibTooBig).cause as Error
        assert.instanceOf(cause, Error)
        assert.strictEqual(cause.name, "RangeError")
        assert.strictEqual(cause.message, "fib(40) would take too long")
        assert.include(cause.stack, "handlers.ts")
      }))

    it.effect("catchTag works on errors from the worker, across a union of error classes", () =>
      Effect.gen(function*() {
        const recovered = yield* WorkerPool.run(Fib, 50).pipe(
          Effect.catchTag("FibTooBig", (e) => Effect.succeed(-e.n))
        )
        assert.strictEqual(recovered, -50)
        const missing = failureOf(yield* Effect.exit(WorkerPool.run(Lookup, { key: "missing", at: new Date() })))
        assert.instanceOf(missing, NotFound)
        assert.strictEqual((missing as NotFound).key, "missing")
      }))

    it.effect("a defect arrives as a defect, with name, message and the worker's stack; the worker stays up", () =>
      Effect.gen(function*() {
        const before = yield* WorkerPool.stats
        const defect = defectOf(yield* Effect.exit(WorkerPool.run(Defect, "boom in the worker")))
        assert.instanceOf(defect, Error)
        assert.strictEqual((defect as Error).name, "TypeError")
        assert.strictEqual((defect as Error).message, "boom in the worker")
        assert.include((defect as Error).stack, "handlers.ts")
        const after = yield* WorkerPool.stats
        assert.strictEqual(after.crashed, before.crashed)
        assert.strictEqual(after.spawned, before.spawned)
      }))

    it.effect("a handler that breaks its own success schema is reported as a defect naming the value", () =>
      Effect.gen(function*() {
        const defect = defectOf(yield* Effect.exit(WorkerPool.run(Liar)))
        assert.include((defect as Error).message, "success schema")
        assert.include((defect as Error).message, "\"not a number\"")
      }))
  })

  describe("bad input is a typed error at the call, before anything is sent", () => {
    it.effect("unknown task name: UnknownTask naming it and the known ones", () =>
      Effect.gen(function*() {
        const error = failureOf(yield* Effect.exit(WorkerPool.run(Unserved, 1)))
        assert.instanceOf(error, UnknownTask)
        assert.strictEqual((error as UnknownTask).taskName, "unserved")
        assert.include((error as UnknownTask).known, "inc")
        assert.notInclude((error as UnknownTask).known, "__orchestrator/offload")
      }))

    it.effect("payload failing its schema: PayloadInvalid naming the path and the value", () =>
      Effect.gen(function*() {
        const sentBefore = (yield* WorkerPool.stats).completed
        const error = failureOf(yield* Effect.exit(WorkerPool.run(Inc, "forty-one" as unknown as number)))
        assert.instanceOf(error, PayloadInvalid)
        assert.strictEqual((error as PayloadInvalid).reason, "schema")
        assert.include((error as PayloadInvalid).detail, "Expected number")
        assert.include((error as PayloadInvalid).detail, "\"forty-one\"")
        const nested = failureOf(
          yield* Effect.exit(WorkerPool.run(Lookup, { key: 7 as unknown as string, at: new Date() }))
        ) as PayloadInvalid
        assert.include(nested.detail, "[\"key\"]")
        assert.include(nested.detail, "got 7")
        assert.strictEqual((yield* WorkerPool.stats).completed, sentBefore)
      }))

    it.effect("payload that cannot be cloned: PayloadInvalid (not-cloneable); calls batched with it still run", () =>
      Effect.gen(function*() {
        const [bad, good] = yield* Effect.all([
          Effect.exit(WorkerPool.offload((f: unknown) => typeof f, [() => 1])),
          WorkerPool.run(Inc, 1)
        ], { concurrency: "unbounded" })
        const error = failureOf(bad) as PayloadInvalid
        assert.instanceOf(error, PayloadInvalid)
        assert.strictEqual(error.reason, "not-cloneable")
        assert.include(error.detail, "could not be cloned")
        assert.strictEqual(good, 2)
      }))

    it.effect("a non-positive timeout is an InvalidConfig", () =>
      Effect.gen(function*() {
        const error = failureOf(yield* Effect.exit(WorkerPool.run(Inc, 1, { timeout: 0 })))
        assert.instanceOf(error, InvalidConfig)
        assert.strictEqual((error as InvalidConfig).field, "timeout")
      }))
  })

  describe("several calls in flight per worker", () => {
    it.effect("up to concurrentTasksPerWorker calls run at once on one worker", () =>
      Effect.gen(function*() {
        // 16 sleeping calls on 2 workers of 8 slots each: all are in flight together, none queued. (Sleeping is
        // light work: the pool learns it from a first call, and only then queues calls behind one another.)
        yield* teach(WorkerPool.run(Sleep, 1))
        const fibers = yield* Effect.forkChild(
          Effect.all(Array.from({ length: 16 }, () => WorkerPool.run(Sleep, 300)), { concurrency: "unbounded" })
        )
        yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.inFlight === 16)))
        const stats = yield* WorkerPool.stats
        assert.strictEqual(stats.workers, 2)
        assert.strictEqual(stats.queued, 0)
        // A 17th call has to wait for a slot.
        const extra = yield* Effect.forkChild(WorkerPool.run(Inc, 0))
        yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.queued === 1)))
        assert.deepStrictEqual(yield* Fiber.join(fibers), Array.from({ length: 16 }, () => 300))
        assert.strictEqual(yield* Fiber.join(extra), 1)
      }))

    it.effect("many tiny calls all complete, in order of their results", () =>
      Effect.gen(function*() {
        const inputs = Array.from({ length: 5_000 }, (_, i) => i)
        const outputs = yield* Effect.forEach(inputs, (i) => WorkerPool.run(Inc, i), { concurrency: 64 })
        assert.deepStrictEqual(outputs, inputs.map((i) => i + 1))
      }))
  })

  describe("offload", () => {
    it.effect("runs a self-contained function with its arguments, sync or async", () =>
      Effect.gen(function*() {
        function fib(n: number): number {
          return n < 2 ? n : fib(n - 1) + fib(n - 2)
        }
        assert.strictEqual(yield* WorkerPool.offload(fib, [20]), 6765)
        assert.strictEqual(yield* WorkerPool.offload((a: number, b: string) => b.repeat(a), [3, "ab"]), "ababab")
        assert.strictEqual(
          yield* WorkerPool.offload(async (ms: number) => {
            await new Promise((resolve) => setTimeout(resolve, ms))
            return "waited"
          }, [5]),
          "waited"
        )
        assert.deepStrictEqual(
          yield* WorkerPool.offload((m: Map<string, number>) => [...m.keys()], [new Map([["a", 1]])]),
          [
            "a"
          ]
        )
      }))

    it.effect("a closure is reported as PayloadInvalid (not-self-contained) naming the missing variable", () =>
      Effect.gen(function*() {
        const factor = 3
        const error = failureOf(
          yield* Effect.exit(WorkerPool.offload((n: number) => n * factor, [2]))
        ) as PayloadInvalid
        assert.instanceOf(error, PayloadInvalid)
        assert.strictEqual(error.reason, "not-self-contained")
        assert.include(error.detail, "factor is not defined")
      }))

    it.effect("bound, native, `this`-using functions and classes are rejected before sending", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<[(...args: Array<any>) => unknown, string]> = [
          [((n: number) => n).bind(null), "bound"],
          [Math.max, "native"],
          [function(this: { x: number }, n: number) {
            return this.x + n
          }, "`this`"],
          [class Point {} as unknown as () => unknown, "class"],
          [
            {
              double(n: number) {
                return n * 2
              }
            }.double,
            "method shorthand"
          ]
        ]
        const before = yield* WorkerPool.stats
        for (const [fn, expected] of cases) {
          const error = failureOf(yield* Effect.exit(WorkerPool.offload(fn, [1]))) as PayloadInvalid
          assert.instanceOf(error, PayloadInvalid)
          assert.strictEqual(error.reason, "not-self-contained")
          assert.include(error.detail, expected)
        }
        const after = yield* WorkerPool.stats
        assert.strictEqual(after.completed, before.completed)
      }))

    it.effect("an exception thrown by the function is a defect with its message", () =>
      Effect.gen(function*() {
        const defect = defectOf(
          yield* Effect.exit(WorkerPool.offload((s: string) => {
            throw new RangeError(s)
          }, ["offloaded failure"]))
        )
        assert.strictEqual((defect as Error).name, "RangeError")
        assert.strictEqual((defect as Error).message, "offloaded failure")
      }))
  })
})

describe("WorkerPool configuration", () => {
  layer(WorkerPool.layer({ minWorkers: 1, maxWorkers: 1 }), { excludeTestServices: true })(
    "default entry",
    (it) => {
      it.effect("the worker's event loop keeps running between calls: its timers fire while it waits for work", () =>
        Effect.gen(function*() {
          yield* WorkerPool.offload(() => {
            setTimeout(() => {
              ;(globalThis as Record<string, unknown>).timerFired = true
            }, 20)
          }, [])
          yield* Effect.sleep("300 millis")
          assert.isTrue(
            yield* WorkerPool.offload(() => (globalThis as Record<string, unknown>).timerFired === true, [])
          )
        }))

      it.effect("without an entry, the pool serves offload only", () =>
        Effect.gen(function*() {
          assert.strictEqual(yield* WorkerPool.offload((a: number, b: number) => a * b, [6, 7]), 42)
          const error = failureOf(yield* Effect.exit(WorkerPool.run(Inc, 1)))
          assert.instanceOf(error, UnknownTask)
          assert.deepStrictEqual((error as UnknownTask).known, [])
        }))
    }
  )

  it.live("a pool whose scope closed rejects calls with PoolShutDown", () =>
    Effect.gen(function*() {
      const pool = yield* Effect.scoped(WorkerPool.make({ entry: workerEntry, maxWorkers: 1, name: "closed" }))
      const error = failureOf(yield* Effect.exit(pool.run(Inc, 1)))
      assert.instanceOf(error, PoolShutDown)
      const offloaded = failureOf(yield* Effect.exit(pool.offload((n: number) => n, [1])))
      assert.instanceOf(offloaded, PoolShutDown)
    }))

  const invalid = [
    [{ maxWorkers: 0 }, "pool.maxWorkers", "0"],
    [{ minWorkers: -1 }, "pool.minWorkers", "-1"],
    [{ minWorkers: 3, maxWorkers: 2 }, "pool.maxWorkers", "2"],
    [{ concurrentTasksPerWorker: 0 }, "pool.concurrentTasksPerWorker", "0"],
    [{ mode: "fiber" as "thread" }, "pool.mode", "\"fiber\""],
    [{ entry: new URL("https://example.com/worker.js") }, "pool.entry", "https://example.com/worker.js"]
  ] as const
  for (const [options, field, value] of invalid) {
    it.live(`${field} = ${value} fails with InvalidConfig before any worker starts`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(WorkerPool.make(options as WorkerPool.Options)))
        const error = failureOf(exit)
        assert.instanceOf(error, InvalidConfig)
        assert.strictEqual((error as InvalidConfig).field, field)
        assert.strictEqual((error as InvalidConfig).value, value)
        assert.notInstanceOf(error, WorkerBootFailed)
      }))
  }
})
