import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Logger, Random, References, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import { InvalidConfig, TaskTimeout, WorkerCrashed } from "../../src/domain/OrchestratorError.ts"
import { RetryPolicy } from "../../src/domain/RetryPolicy.ts"
import type { RetryPolicyInput } from "../../src/domain/RetryPolicy.ts"
import * as Retry from "../../src/runtime/resilience/Retry.ts"

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { attempt: Schema.Number }) {}
class Fatal extends Schema.TaggedError<Fatal>()("Fatal", { attempt: Schema.Number }) {}

/** A task that records when each attempt starts and fails until attempt `succeedOn` (never by default). */
const recorder = (options: { succeedOn?: number; fail?: (attempt: number) => Effect.Effect<never, any> } = {}) => {
  const startedAt: Array<number> = []
  const task = Effect.gen(function*() {
    startedAt.push(yield* Clock.currentTimeMillis)
    const attempt = startedAt.length
    if (attempt === options.succeedOn) return `ok@${attempt}`
    return yield* (options.fail?.(attempt) ?? new Flaky({ attempt }))
  })
  return { startedAt, task }
}

// A Random that always returns `r`: jitter factors at the edges of their range, exactly.
const fixedRandom = (r: number) =>
  Effect.provideService(Random.Random, { nextDoubleUnsafe: () => r, nextIntUnsafe: () => 0 })

const decode = Schema.decodeUnknownSync(RetryPolicy)

const delaysOf = (policy: RetryPolicyInput, steps: number) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(Retry.toSchedule(decode(policy)))
    const delays: Array<number> = []
    for (let i = 0; i < steps; i++) {
      const [, delay] = yield* step(0, new Flaky({ attempt: i }))
      delays.push(Duration.toMillis(delay))
    }
    return delays
  })

/** Runs `self` on the TestClock without advancing it: fails the test at once, instead of hanging, if it waits. */
const withoutWaiting = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(self)
    for (let i = 0; i < 20 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    if (fiber.pollUnsafe() === undefined) {
      yield* Fiber.interrupt(fiber)
      return assert.fail("expected it to end without waiting on the clock")
    }
    return yield* Fiber.join(fiber)
  })

/** Joins a fiber that must already be done (after a few yields), instead of hanging if it is not. */
const joinDone = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 20 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    if (fiber.pollUnsafe() === undefined) {
      yield* Fiber.interrupt(fiber)
      return assert.fail("expected the fiber to be done")
    }
    return yield* Fiber.join(fiber)
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${String(exit.value)}`)
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

describe("Retry delays", () => {
  it.effect("exponential 100, 200, 400 ms, then capped at the maximum interval", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder()
      const fiber = yield* task.pipe(
        Retry.retryCounted({
          initialInterval: 100,
          backoffCoefficient: 2,
          maximumInterval: 500,
          maximumAttempts: 6,
          jitter: 0
        }),
        Effect.forkChild
      )
      yield* TestClock.adjust("99 millis")
      assert.deepStrictEqual(startedAt, [0])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(startedAt, [0, 100])
      yield* TestClock.adjust("10 seconds")
      const { attempts, exit } = yield* Fiber.join(fiber)
      // Waits: 100, 200, 400, then 500 (800 capped), 500 (1600 capped).
      assert.deepStrictEqual(startedAt, [0, 100, 300, 700, 1200, 1700])
      assert.strictEqual(attempts, 6)
      assert.deepStrictEqual(failureOf(exit), new Flaky({ attempt: 6 }))
    }))

  it.effect("toSchedule gives min(initial × coefficient^(n−1), max) with jitter off", () =>
    Effect.gen(function*() {
      const delays = yield* delaysOf(
        {
          initialInterval: 50,
          backoffCoefficient: 3,
          maximumInterval: 1000,
          maximumAttempts: 7,
          jitter: 0
        },
        6
      )
      assert.deepStrictEqual(delays, [50, 150, 450, 1000, 1000, 1000])
    }))

  it.effect("the maximum defaults to 100 × the initial interval", () =>
    Effect.gen(function*() {
      const delays = yield* delaysOf({
        initialInterval: 1,
        backoffCoefficient: 10,
        maximumAttempts: 5,
        jitter: 0
      }, 4)
      assert.deepStrictEqual(delays, [1, 10, 100, 100])
    }))

  it.effect("jitter scales each delay by exactly 1 − jitter and 1 + jitter at the edges of the random range", () =>
    Effect.gen(function*() {
      const policy = { initialInterval: 100, maximumInterval: 300, maximumAttempts: 5, jitter: 0.25 }
      const low = yield* delaysOf(policy, 4).pipe(fixedRandom(0))
      assert.deepStrictEqual(low, [75, 150, 225, 225])
      const high = yield* delaysOf(policy, 4).pipe(fixedRandom(1))
      assert.deepStrictEqual(high, [125, 250, 375, 375])
    }))

  it.effect("jittered delays stay within their bounds and vary (seeded random)", () =>
    Effect.gen(function*() {
      const policy = { initialInterval: 100, backoffCoefficient: 1, maximumAttempts: 201, jitter: 0.2 }
      const delays = yield* delaysOf(policy, 200).pipe(Random.withSeed("resilience"))
      for (const delay of delays) {
        assert.isAtLeast(delay, 80)
        assert.isAtMost(delay, 120)
      }
      assert.isAbove(new Set(delays).size, 100)
      assert.isBelow(Math.min(...delays), 85)
      assert.isAbove(Math.max(...delays), 115)
    }))

  it.effect("a retry loop waits the jittered delays", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder({ succeedOn: 3 })
      const fiber = yield* task.pipe(
        Retry.retry({ initialInterval: 100, maximumAttempts: 3, jitter: 0.5 }),
        fixedRandom(0),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok@3")
      assert.deepStrictEqual(startedAt, [0, 50, 150])
    }))
})

describe("Retry attempts and stops", () => {
  it.effect("succeeds on a later attempt and counts every attempt", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder({ succeedOn: 3 })
      const fiber = yield* Retry.retryCounted(task, { maximumAttempts: 5, jitter: 0 }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const { attempts, exit } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(exit, Exit.succeed("ok@3"))
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(startedAt, [0, 100, 300])
    }))

  it.effect("maximumAttempts 1 runs once", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder()
      const { attempts, exit } = yield* withoutWaiting(Retry.retryCounted(task, { maximumAttempts: 1 }))
      assert.strictEqual(attempts, 1)
      assert.deepStrictEqual(startedAt, [0])
      assert.deepStrictEqual(failureOf(exit), new Flaky({ attempt: 1 }))
    }))

  it.effect("a non-retryable tag stops at once, with no wait", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder({ fail: (attempt) => Effect.fail(new Fatal({ attempt })) })
      const { attempts, exit } = yield* withoutWaiting(
        Retry.retryCounted(task, { maximumAttempts: 5, nonRetryable: ["Fatal"] })
      )
      assert.strictEqual(attempts, 1)
      assert.deepStrictEqual(startedAt, [0])
      assert.deepStrictEqual(failureOf(exit), new Fatal({ attempt: 1 }))
    }))

  it.effect("a retryable error is retried until a non-retryable one comes", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder({
        fail: (attempt) => attempt < 3 ? Effect.fail(new Flaky({ attempt })) : Effect.fail(new Fatal({ attempt }))
      })
      const fiber = yield* Retry.retryCounted(task, { maximumAttempts: 10, jitter: 0, nonRetryable: ["Fatal"] }).pipe(
        Effect.forkChild
      )
      yield* TestClock.adjust("1 minute")
      const { attempts, exit } = yield* Fiber.join(fiber)
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(startedAt, [0, 100, 300])
      assert.deepStrictEqual(failureOf(exit), new Fatal({ attempt: 3 }))
    }))

  it.effect("the isRetryable predicate stops at once on the typed error", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder()
      const seen: Array<string> = []
      const exit = yield* task.pipe(
        Retry.retry({ maximumAttempts: 5 }, {
          isRetryable: (error) => {
            seen.push(error._tag)
            return error._tag !== "Flaky"
          }
        }),
        Effect.exit,
        withoutWaiting
      )
      assert.deepStrictEqual(startedAt, [0])
      assert.deepStrictEqual(seen, ["Flaky"])
      assert.deepStrictEqual(failureOf(exit), new Flaky({ attempt: 1 }))
    }))

  it.effect("defects are not retried", () =>
    Effect.gen(function*() {
      let runs = 0
      const { attempts, exit } = yield* withoutWaiting(Retry.retryCounted(
        Effect.suspend(() => {
          runs++
          return Effect.die(new Error("bug"))
        }),
        { maximumAttempts: 5 }
      ))
      assert.strictEqual(runs, 1)
      assert.strictEqual(attempts, 1)
      assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Die")
    }))

  it.effect("interrupting the caller during a backoff wait stops the retries", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder()
      const fiber = yield* task.pipe(Retry.retry({ initialInterval: 100, maximumAttempts: 5 }), Effect.forkChild)
      yield* TestClock.adjust("50 millis")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(startedAt, [0])
    }))
})

describe("Retry timeouts and deadline", () => {
  it.effect("a hung attempt fails with TaskTimeout after attemptTimeout and is retried", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const task = Effect.gen(function*() {
        startedAt.push(yield* Clock.currentTimeMillis)
        if (startedAt.length < 3) return yield* Effect.never
        return "done"
      })
      const fiber = yield* Retry.retryCounted(
        task,
        { initialInterval: 100, maximumAttempts: 3, jitter: 0, attemptTimeout: 50 },
        { taskId: "t-1", taskName: "resize" }
      ).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const { attempts, exit } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(exit, Exit.succeed("done"))
      assert.strictEqual(attempts, 3)
      // Attempt 1 at 0 times out at 50, waits 100; attempt 2 at 150 times out at 200, waits 200.
      assert.deepStrictEqual(startedAt, [0, 150, 400])
    }))

  it.effect("the TaskTimeout names the task and the per-attempt limit when attempts run out", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.never.pipe(
        Retry.retry({ maximumAttempts: 2, jitter: 0, attemptTimeout: 30 }, { taskId: "t-9", taskName: "ocr" }),
        Effect.exit,
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      const error = failureOf(yield* Fiber.join(fiber))
      assert.instanceOf(error, TaskTimeout)
      assert.deepStrictEqual(error, new TaskTimeout({ taskId: "t-9", taskName: "ocr", timeoutMillis: 30 }))
    }))

  it.effect("TaskTimeout can be made non-retryable", () =>
    Effect.gen(function*() {
      let runs = 0
      const fiber = yield* Retry.retryCounted(
        Effect.suspend(() => {
          runs++
          return Effect.never
        }),
        { maximumAttempts: 4, attemptTimeout: 10, nonRetryable: ["TaskTimeout"] }
      ).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const { attempts, exit } = yield* Fiber.join(fiber)
      assert.strictEqual(runs, 1)
      assert.strictEqual(attempts, 1)
      assert.instanceOf(failureOf(exit), TaskTimeout)
    }))

  it.effect("the deadline ends retries: no retry starts at or after it, and the last error is kept", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder()
      const fiber = yield* task.pipe(
        Retry.retryCounted({ initialInterval: 100, maximumAttempts: 10, jitter: 0, deadline: 700 }),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 minute")
      const { attempts, exit } = yield* Fiber.join(fiber)
      // 0, 100, 300; the next would start at 700 = the deadline.
      assert.deepStrictEqual(startedAt, [0, 100, 300])
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(failureOf(exit), new Flaky({ attempt: 3 }))
    }))

  it.effect("the deadline ends retries without waiting for a retry that could not start in time", () =>
    Effect.gen(function*() {
      const { task } = recorder()
      const fiber = yield* task.pipe(
        Retry.retry({ initialInterval: 100, maximumAttempts: 10, jitter: 0, deadline: 250 }),
        Effect.exit,
        Effect.forkChild
      )
      yield* TestClock.adjust("100 millis")
      // Attempt 2 failed at 100; attempt 3 would start at 300 > 250, so the fiber is already done.
      assert.deepStrictEqual(failureOf(yield* joinDone(fiber)), new Flaky({ attempt: 2 }))
    }))

  it.effect("the deadline cuts the running attempt with a TaskTimeout of the deadline", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const task = Effect.gen(function*() {
        startedAt.push(yield* Clock.currentTimeMillis)
        return yield* Effect.never
      })
      const fiber = yield* Retry.retryCounted(task, {
        initialInterval: 100,
        maximumAttempts: 10,
        jitter: 0,
        attemptTimeout: 100,
        deadline: 250
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("249 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const { attempts, exit } = yield* joinDone(fiber)
      // Attempt 1: 0 → timeout at 100, wait 100; attempt 2: 200 → cut by the deadline at 250.
      assert.deepStrictEqual(startedAt, [0, 200])
      assert.strictEqual(attempts, 2)
      assert.deepStrictEqual(
        failureOf(exit),
        new TaskTimeout({ taskId: "anonymous", taskName: "task", timeoutMillis: 250 })
      )
    }))

  it.effect("a deadline without a per-attempt timeout still cuts a hung first attempt", () =>
    Effect.gen(function*() {
      const fiber = yield* Retry.retryCounted(Effect.never, {
        initialInterval: 100,
        maximumAttempts: 10,
        deadline: 300
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("299 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const { attempts, exit } = yield* joinDone(fiber)
      assert.strictEqual(attempts, 1)
      assert.deepStrictEqual(
        failureOf(exit),
        new TaskTimeout({ taskId: "anonymous", taskName: "task", timeoutMillis: 300 })
      )
    }))

  it.effect("a task failing with undefined or null is retried like any typed failure, and keeps that value", () =>
    Effect.gen(function*() {
      for (const value of [undefined, null]) {
        let attempts = 0
        const exit = yield* Effect.suspend(() => {
          attempts++
          return Effect.fail(value)
        }).pipe(
          Retry.retry({ initialInterval: 10, maximumAttempts: 3, jitter: 0 }),
          Effect.exit,
          Effect.forkChild,
          Effect.tap(() => TestClock.adjust("100 millis")),
          Effect.flatMap(Fiber.join)
        )
        assert.strictEqual(attempts, 3, `failing with ${value}`)
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(failureOf(exit), value)
      }
    }))
})

describe("Retry of offloaded tasks", () => {
  const crash = (workerId: number) =>
    new WorkerCrashed({ workerId, exitCode: 1, signal: null, reason: "exit", detail: "process.exit(1)" })

  it.effect("a worker crash is retried by default", () =>
    Effect.gen(function*() {
      const { startedAt, task } = recorder({ succeedOn: 3, fail: (attempt) => Effect.fail(crash(attempt)) })
      const fiber = yield* Retry.retryCounted(task, { maximumAttempts: 3, jitter: 0 }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const { attempts, exit } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(exit, Exit.succeed("ok@3"))
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(startedAt, [0, 100, 300])
    }))

  it.effect("a worker crash is not retried when the policy says so", () =>
    Effect.gen(function*() {
      const { task } = recorder({ succeedOn: 3, fail: (attempt) => Effect.fail(crash(attempt)) })
      const { attempts, exit } = yield* withoutWaiting(
        Retry.retryCounted(task, { maximumAttempts: 3, nonRetryable: ["WorkerCrashed"] })
      )
      assert.strictEqual(attempts, 1)
      assert.deepStrictEqual(failureOf(exit), crash(1))
    }))
})

describe("Retry configuration", () => {
  const rejected = (policy: RetryPolicyInput) =>
    Effect.gen(function*() {
      let ran = false
      const exit = yield* Effect.sync(() => {
        ran = true
      }).pipe(Retry.retryCounted(policy), Effect.exit)
      assert.isFalse(ran)
      const error = failureOf(exit)
      assert.instanceOf(error, InvalidConfig)
      return error
    })

  it.effect("a coefficient below 1, a negative interval and zero attempts fail at once, naming the field", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* rejected({ backoffCoefficient: 0.5 })).field, "retry.backoffCoefficient")
      const negative = yield* rejected({ initialInterval: -5 })
      assert.strictEqual(negative.field, "retry.initialInterval")
      assert.strictEqual(negative.value, "-5")
      assert.strictEqual((yield* rejected({ maximumAttempts: 0 })).field, "retry.maximumAttempts")
      assert.strictEqual((yield* rejected({ jitter: -0.1 })).field, "retry.jitter")
      assert.strictEqual((yield* rejected({ deadline: 0 })).field, "retry.deadline")
    }))

  it.effect("a maximum interval below the initial interval is rejected on the maximum", () =>
    Effect.gen(function*() {
      const error = yield* rejected({ initialInterval: 500, maximumInterval: 100 })
      assert.strictEqual(error.field, "retry.maximumInterval")
      assert.include(error.detail, "initialInterval")
    }))

  it.effect("retry reports a bad policy as InvalidConfig in its error channel", () =>
    Effect.gen(function*() {
      const error = yield* Effect.succeed(1).pipe(Retry.retry({ maximumAttempts: 0 }), Effect.flip)
      assert.instanceOf(error, InvalidConfig)
    }))

  it.effect("a decoded policy is accepted as it is", () =>
    Effect.gen(function*() {
      const policy = decode({ maximumAttempts: 2, jitter: 0 })
      const { task } = recorder({ succeedOn: 2 })
      const fiber = yield* Retry.retryCounted(task, policy).pipe(Effect.forkChild)
      yield* TestClock.adjust("100 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 2)
    }))
})

describe("Retry details", () => {
  const logsOf = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const lines: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const logger = Logger.make(({ fiber, message }) => {
        lines.push({
          message: Array.isArray(message) ? message.join(" ") : message,
          annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
        })
      })
      const fiber = yield* effect.pipe(
        Effect.exit,
        Effect.provide(Logger.layer([logger])),
        Effect.provideService(References.MinimumLogLevel, "Debug"),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      return lines
    })

  it.effect("each retry logs the task, the error's tag, the next attempt and its delay", () =>
    Effect.gen(function*() {
      const { task } = recorder({ succeedOn: 2 })
      const lines = yield* logsOf(
        Retry.retry(task, { initialInterval: 100, jitter: 0 }, { taskName: "resize", taskId: "t-1" })
      )
      assert.deepStrictEqual(lines, [{
        message: "retrying resize after Flaky: attempt 2 in 100 ms",
        annotations: { task: "resize", taskId: "t-1", attempt: 2, delayMillis: 100, error: "Flaky" }
      }])
    }))

  it.effect("without names a retry logs task and anonymous; a string error is its own tag, others unknown", () =>
    Effect.gen(function*() {
      const policy = { initialInterval: 100, maximumAttempts: 2, jitter: 0 }
      const named = yield* logsOf(Retry.retry(Effect.fail("busy"), policy))
      assert.deepStrictEqual(named.map((l) => [l.message, l.annotations]), [[
        "retrying task after busy: attempt 2 in 100 ms",
        { task: "task", taskId: "anonymous", attempt: 2, delayMillis: 100, error: "busy" }
      ]])
      for (const error of [42, { code: 1 }, null, { _tag: 7 }]) {
        const lines = yield* logsOf(Retry.retry(Effect.fail(error), policy))
        assert.deepStrictEqual(lines.map((l) => l.annotations.error), ["unknown"], JSON.stringify(error))
      }
    }))

  it.effect("a policy object is decoded once; undefined and null take the defaults; a non-object is InvalidConfig", () =>
    Effect.gen(function*() {
      const policy = { maximumAttempts: 2 }
      assert.strictEqual(Retry.decodePolicyExit(policy), Retry.decodePolicyExit(policy))
      assert.notStrictEqual(Retry.decodePolicyExit({ maximumAttempts: 2 }), Retry.decodePolicyExit(policy))
      const defaults = yield* Retry.decodePolicy(undefined)
      assert.strictEqual(defaults.maximumAttempts, 3)
      assert.deepStrictEqual(yield* Retry.decodePolicy(null as never), defaults)
      const error = yield* Effect.flip(Retry.decodePolicy(5 as never))
      assert.instanceOf(error, InvalidConfig)
      assert.strictEqual(error.field, "retry")
    }))

  it.effect("an attempt left with exactly its per-attempt timeout before the deadline times out on the attempt's own limit", () =>
    Effect.gen(function*() {
      // attempt 1 fails at 0; attempt 2 starts at 200, with 100 ms left of the deadline, the attempt's own limit
      let attempts = 0
      const task = Effect.suspend(() => ++attempts === 1 ? Effect.fail(new Flaky({ attempt: 1 })) : Effect.never)
      const fiber = yield* Retry.retryCounted(task, {
        initialInterval: 200,
        jitter: 0,
        maximumAttempts: 5,
        attemptTimeout: 100,
        deadline: 300
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("300 millis")
      const { exit } = yield* joinDone(fiber)
      assert.strictEqual(attempts, 2)
      assert.deepStrictEqual(
        failureOf(exit),
        new TaskTimeout({ taskId: "anonymous", taskName: "task", timeoutMillis: 100 })
      )
    }))

  it.effect("retry and retryCounted take the effect first, as well as in a pipe", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Retry.retry(Effect.succeed(1), { maximumAttempts: 1 }), 1)
      assert.strictEqual((yield* Retry.retryCounted(Effect.succeed(1), { maximumAttempts: 1 })).attempts, 1)
    }))
})
