// What the library tells its users through Effect's Logger: worker crashes and their replacements, boot failures,
// circuit transitions, retries and drains at shutdown, at their levels and with their annotations. A capturing
// logger stands in for the console.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Logger, Metric, References, Scope } from "effect"
import type { LogLevel } from "effect"
import { TestClock } from "effect/testing"
// The public surface only, so that these specs read as a user's and survive moves inside src.
import { CircuitBreakers, Orchestrator, Retry, Task, WorkerPool } from "../../src/index.ts"
import { Exit as ExitTask, Inc, Sleep } from "../pool/fixtures/tasks.ts"
import { eventually, fixture, workerEntry } from "../pool/helpers.ts"

interface Line {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ fiber, logLevel, message }) => {
    lines.push({
      level: logLevel,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  // Everything down to debug, and nothing to the console.
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(Logger.layer([logger])), Effect.provideService(References.MinimumLogLevel, "Debug"))
  return { lines, provide }
}

const matching = (lines: ReadonlyArray<Line>, pattern: RegExp) => lines.filter((l) => pattern.test(l.message))

describe("retries", () => {
  it.effect("each retry is a debug line with the task, the attempt, the delay and the error's tag", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      let calls = 0
      const flaky = Effect.suspend(() => ++calls < 3 ? Effect.fail({ _tag: "Busy" as const }) : Effect.succeed(calls))
      const fiber = yield* Effect.forkChild(
        flaky.pipe(Retry.retry({ maximumAttempts: 5, jitter: 0 }, { taskName: "lookup", taskId: "lookup-1" }))
      )
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
      const retries = matching(lines, /^retrying/)
      assert.deepStrictEqual(retries.map((l) => l.level), ["Debug", "Debug"])
      assert.deepStrictEqual(
        retries.map((
          l
        ) => [l.annotations.task, l.annotations.taskId, l.annotations.attempt, l.annotations.delayMillis]),
        [["lookup", "lookup-1", 2, 100], ["lookup", "lookup-1", 3, 200]]
      )
      assert.strictEqual(retries[0]!.annotations.error, "Busy")
      assert.strictEqual(retries[0]!.message, "retrying lookup after Busy: attempt 2 in 100 ms")
    }).pipe(provide)
  })

  it.effect("a failure that is not retried logs nothing", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.fail({ _tag: "BadRequest" as const }).pipe(Retry.retry({ nonRetryable: ["BadRequest"] }))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(lines, [])
    }).pipe(provide)
  })

  it.effect("debug lines are filtered out at the default minimum level", () =>
    Effect.gen(function*() {
      const lines: Array<unknown> = []
      const fiber = yield* Effect.forkChild(
        Effect.fail("down").pipe(
          Retry.retry({ maximumAttempts: 2, jitter: 0 }),
          Effect.provide(Logger.layer([Logger.make(({ message }) => void lines.push(message))]))
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.await(fiber)
      assert.deepStrictEqual(lines, [])
    }))
})

describe("circuits", () => {
  it.effect("opening is a warning, half-opening and closing are info, each with the circuit's key", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const breakers = yield* CircuitBreakers.CircuitBreakers
      const guarded = (effect: Effect.Effect<string, string>) => Effect.exit(breakers.execute("rates-api")(effect))
      yield* guarded(Effect.fail("down"))
      yield* guarded(Effect.fail("down"))
      yield* TestClock.adjust("1 second")
      yield* guarded(Effect.succeed("up"))
      const transitions = matching(lines, /^circuit /)
      assert.deepStrictEqual(transitions.map((l) => [l.level, l.annotations.from, l.annotations.to]), [
        ["Warn", "Closed", "Open"],
        ["Info", "Open", "HalfOpen"],
        ["Info", "HalfOpen", "Closed"]
      ])
      assert.isTrue(transitions.every((l) => l.annotations.circuit === "rates-api"))
      assert.strictEqual(transitions[0]!.annotations.retryAfterMillis, 1_000)
      assert.include(transitions[0]!.message, "circuit rates-api opened")
    }).pipe(
      Effect.provide(
        CircuitBreakers.layer({ policy: { consecutiveFailures: 2, openDuration: 1_000 } }).pipe(
          Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
        )
      ),
      provide
    )
  })
})

describe("worker pools", () => {
  it.live("a crash is a warning naming the worker and the reason, and its replacement is info", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, name: "logged", minWorkers: 1, maxWorkers: 1 })
      yield* Effect.exit(pool.run(ExitTask, { code: 3, delayMillis: 0 }))
      yield* eventually(Effect.sync(() => matching(lines, /replaces a crashed worker/).length === 1))
      const [crash] = matching(lines, /crashed/)
      assert.strictEqual(crash!.level, "Warn")
      assert.deepStrictEqual(
        [crash!.annotations.pool, crash!.annotations.reason, crash!.annotations.failedCalls],
        ["logged", "exit", 1]
      )
      assert.include(crash!.message, "exited with code 3")
      const [replaced] = matching(lines, /replaces a crashed worker/)
      assert.strictEqual(replaced!.level, "Info")
      assert.strictEqual(replaced!.annotations.pool, "logged")
      assert.notStrictEqual(replaced!.annotations.workerId, crash!.annotations.workerId)
      assert.strictEqual(yield* pool.run(Inc, 1), 2)
    }).pipe(Effect.scoped, provide)
  })

  it.live("each failed boot is a warning with the attempt, and giving up is an error", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(WorkerPool.make({ entry: fixture("boot-throws.ts"), name: "broken", maxBootFailures: 2 }))
      )
      assert.isTrue(Exit.isFailure(exit))
      const boots = matching(lines, /failed to boot/)
      assert.deepStrictEqual(boots.map((l) => [l.level, l.annotations.attempt, l.annotations.maxAttempts]), [
        ["Warn", 1, 2],
        ["Error", 2, 2]
      ])
      assert.isTrue(boots.every((l) => l.annotations.pool === "broken"))
      assert.include(boots[0]!.message, "the worker's own boot error")
    }).pipe(provide)
  })

  it.live("closing a pool with accepted calls logs the drain", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* WorkerPool.make({ entry: workerEntry, name: "draining" }).pipe(Scope.provide(scope))
      const call = yield* Effect.forkChild(pool.run(Sleep, 100))
      yield* eventually(pool.stats.pipe(Effect.map((s) => s.inFlight === 1)))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Fiber.join(call), 100, "the accepted call finished")
      const [drain] = matching(lines, /draining/)
      assert.strictEqual(drain!.level, "Info")
      assert.strictEqual(drain!.annotations.pool, "draining")
      assert.include(drain!.message, "1 calls (1 running, 0 queued)")
      assert.lengthOf(matching(lines, /shut down in \d+ ms/), 1)
    }).pipe(provide)
  })
})

describe("the orchestrator", () => {
  it.live("closing it with background tasks logs their drain", () => {
    const { lines, provide } = capture()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Orchestrator.layerTest(), scope)
      const orchestrator = Context.get(context, Orchestrator.Orchestrator)
      const handle = yield* orchestrator.submit(Task.make(Effect.sleep("50 millis"), { name: "report" }))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(handle.await)))
      const drain = matching(lines, /background/)
      assert.deepStrictEqual(drain.map((l) => [l.level, l.annotations.queue]), [
        ["Info", "background"],
        ["Info", "background"]
      ])
      assert.match(drain[0]!.message, /draining \d running and \d queued task\(s\) until /)
      assert.strictEqual(drain[1]!.message, "background tasks drained")
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), provide)
  })
})
