// WorkerPool.layerTest: the same handlers in-process, with no threads, for users' specs.
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import type { Duration } from "effect"
import { threadId } from "node:worker_threads"
import type { InvalidConfig, PayloadInvalid } from "../../src/domain/OrchestratorError.ts"
import { TaskTimeout, UnknownTask } from "../../src/domain/OrchestratorError.ts"
import * as WorkerTask from "../../src/domain/WorkerTask.ts"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { handlers } from "./fixtures/handlers.ts"
import { Defect, Fib, FibTooBig, Inc, Lookup, NotFound, Sleep, Sum, Tasks, Unserved, WhoAmI } from "./fixtures/tasks.ts"
import served from "./fixtures/worker.ts"
import { eventually, threadsNamed } from "./helpers.ts"

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return (error as Option.Some<E>).value
}

describe("layerTest", () => {
  it("importing a worker entry outside a pool only returns what it serves", () => {
    assert.isFalse(served.attached)
    assert.strictEqual(served.group, Tasks)
  })

  layer(WorkerPool.layerTest(served, { name: "inproc" }), { excludeTestServices: true })(
    "from what serve returns",
    (it) => {
      it.effect("runs the handlers in this thread: no worker thread is started", () =>
        Effect.gen(function*() {
          assert.strictEqual(yield* WorkerPool.run(Inc, 1), 2)
          assert.strictEqual((yield* WorkerPool.run(WhoAmI)).threadId, threadId)
          const threads = threadsNamed("inproc")
          if (threads !== undefined) assert.deepStrictEqual(threads, [])
        }))

      it.effect("values and errors still cross a boundary: schemas and structured clone", () =>
        Effect.gen(function*() {
          const found = yield* WorkerPool.run(Lookup, { key: "abcd", at: new Date(0) })
          assert.deepStrictEqual(found.value, Option.some(4))
          const tooBig = errorOf(yield* Effect.exit(WorkerPool.run(Fib, 99)))
          assert.instanceOf(tooBig, FibTooBig)
          assert.instanceOf((tooBig as FibTooBig).cause, Error)
          assert.instanceOf(
            errorOf(yield* Effect.exit(WorkerPool.run(Lookup, { key: "missing", at: new Date() }))),
            NotFound
          )
          const defect = yield* Effect.exit(WorkerPool.run(Defect, "in-process defect"))
          assert.isTrue(Exit.isFailure(defect) && Cause.hasDies(defect.cause))
          const data = new Float64Array(10).fill(1)
          assert.strictEqual((yield* WorkerPool.run(Sum, data)).sum, 10)
          assert.strictEqual(data.byteLength, 0, "transfer moves the buffer here too")
        }))

      it.effect("bad input fails as in a real pool", () =>
        Effect.gen(function*() {
          assert.instanceOf(errorOf(yield* Effect.exit(WorkerPool.run(Unserved, 1))), UnknownTask)
          const schema = errorOf(yield* Effect.exit(WorkerPool.run(Inc, "1" as unknown as number)))
          assert.strictEqual((schema as PayloadInvalid).reason, "schema")
          const clone = errorOf(yield* Effect.exit(WorkerPool.offload((f: unknown) => typeof f, [Symbol("x")])))
          assert.strictEqual((clone as PayloadInvalid).reason, "not-cloneable")
          const factor = 2
          const closure = errorOf(yield* Effect.exit(WorkerPool.offload((n: number) => n * factor, [1])))
          assert.strictEqual((closure as PayloadInvalid).reason, "not-self-contained")
        }))

      it.effect("timeouts and interruption interrupt the handler's fiber", () =>
        Effect.gen(function*() {
          const before = (yield* WorkerPool.run(WhoAmI)).interrupted
          assert.instanceOf(errorOf(yield* Effect.exit(WorkerPool.run(Sleep, 60_000, { timeout: 20 }))), TaskTimeout)
          yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.inFlight === 0)))
          const fiber = yield* Effect.forkChild(WorkerPool.run(Sleep, 60_000))
          yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
          yield* Fiber.interrupt(fiber)
          yield* eventually(WorkerPool.stats.pipe(Effect.map((s) => s.inFlight === 0)))
          assert.strictEqual((yield* WorkerPool.run(WhoAmI)).interrupted, before + 2)
          assert.strictEqual(yield* WorkerPool.offload((a: number, b: number) => a + b, [1, 2]), 3)
        }))

      it.effect("offload takes its arguments as an array, then the call's options (timeout, taskId, priority)", () =>
        Effect.gen(function*() {
          const never = (label: string) => new Promise<string>(() => void label)
          const timedOut = errorOf(
            yield* Effect.exit(WorkerPool.offload(never, ["x"], { timeout: "20 millis", taskId: "mine" }))
          )
          assert.instanceOf(timedOut, TaskTimeout)
          assert.strictEqual((timedOut as TaskTimeout).taskId, "mine")
          assert.strictEqual((timedOut as TaskTimeout).timeoutMillis, 20)
          const badTimeout = errorOf(
            yield* Effect.exit(WorkerPool.offload(never, ["x"], { timeout: "soon" as Duration.Input }))
          )
          assert.strictEqual((badTimeout as InvalidConfig).field, "timeout")
          const badPriority = errorOf(
            yield* Effect.exit(WorkerPool.offload(never, ["x"], { priority: "urgent" as never }))
          )
          assert.strictEqual((badPriority as InvalidConfig).field, "priority")
          assert.deepStrictEqual(yield* WorkerPool.offload((...xs: Array<number>) => xs, [1, 2, 3]), [1, 2, 3])
          assert.strictEqual(yield* WorkerPool.offload(() => "none", []), "none")
        }))
    }
  )

  layer(WorkerPool.layerTest(Tasks, handlers))("from a group and handlers, under the TestClock", (it) => {
    it.effect("works in a default it.effect spec", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* Effect.forEach([1, 2, 3], (n) => WorkerPool.run(Inc, n), { concurrency: "unbounded" }),
          [2, 3, 4]
        )
        const stats = yield* WorkerPool.stats
        assert.strictEqual(stats.completed, 3)
        assert.strictEqual(stats.workers, 1)
      }))
  })

  it.effect("a group with a missing handler fails the layer's worker boot with a clear error", () =>
    Effect.gen(function*() {
      const Lonely = WorkerTask.make("lonely", { payload: WorkerTask.Float64Array })
      const exit = yield* Effect.exit(
        Effect.scoped(
          WorkerPool.layerTest(WorkerTask.group(Lonely), {} as WorkerTask.Handlers<never>, {
            maxBootFailures: 1
          }).pipe((l) => Effect.asVoid(Effect.provide(Effect.void, l)))
        )
      )
      const error = errorOf(exit) as { _tag: string; cause: Error }
      assert.strictEqual(error._tag, "WorkerBootFailed")
      assert.include(error.cause.message, "no handler for task \"lonely\"")
    }))
})
