/**
 * Retries as plain values: a {@link RetryPolicy.RetryPolicy} (data, a Schema) turned into a `Schedule` and applied
 * to any effect, in-process or offloaded to a worker.
 *
 * Order of composition, inside out:
 * 1. the per-attempt timeout (`attemptTimeout`) wraps each attempt and fails it with `TaskTimeout`;
 * 2. the retry loop re-runs failed attempts after `min(initial × coefficient^(n−1), maximum) × jitter factor`;
 * 3. the overall deadline (`deadline`) bounds the loop: no retry starts at or after it, and the attempt
 *    running when it passes is cut with a `TaskTimeout` whose `timeoutMillis` is the deadline.
 *
 * A circuit breaker goes outside all of this, so it sees one outcome per call (see `CircuitBreakers`), and a
 * fallback outside the breaker (see `Fallback` and `Resilience.apply`).
 *
 * Each retry is logged at debug level, annotated with the task, the attempt about to start, the delay and the
 * error's `_tag`.
 *
 * What is retried: every typed failure, unless its `_tag` is listed in `nonRetryable` or the `isRetryable`
 * predicate rejects it. `WorkerCrashed` and `TaskTimeout` are ordinary typed failures, so a crashed worker or a
 * hard timeout is retried unless the policy names them. Defects (bugs) and interruptions are never retried.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-orchestrator"
 *
 * const flaky = Effect.fail({ _tag: "Unavailable" as const })
 *
 * // 100 ms, 200 ms, 400 ms between attempts (±20 % jitter), at most 4 attempts, 250 ms per attempt.
 * const program = flaky.pipe(
 *   Retry.retry({ initialInterval: 100, maximumAttempts: 4, attemptTimeout: 250 })
 * )
 *
 * // The same, with the attempt count for a task's result.
 * const counted = Retry.retryCounted(flaky, { maximumAttempts: 4 }) // Effect<{ exit, attempts }, InvalidConfig>
 * ```
 *
 * @since 0.1.0
 */
import type { Exit } from "effect"
import { Clock, Duration, Effect, Random, Schedule } from "effect"
import { dual } from "effect/Function"
import type { InvalidConfig } from "../../domain/OrchestratorError.ts"
import { TaskTimeout } from "../../domain/OrchestratorError.ts"
import { maximumIntervalOf, RetryPolicy } from "../../domain/RetryPolicy.ts"
import type { RetryPolicyInput } from "../../domain/RetryPolicy.ts"
import { decodeConfigExit } from "../config/ConfigValidation.ts"

/** What a retry adds to the policy at run time: things that cannot be Schema data. */
export interface RetryOptions<E> {
  /**
   * Decides whether a typed failure is retried, on top of the policy's `nonRetryable` tags: a failure is retried
   * only when its tag is not listed and this predicate (default: always) returns `true`.
   */
  readonly isRetryable?: ((error: E | TaskTimeout) => boolean) | undefined
  /** Put into the `TaskTimeout` of a timed-out attempt. Default: `"anonymous"`. */
  readonly taskId?: string | undefined
  /** Put into the `TaskTimeout` of a timed-out attempt. Default: `"task"`. */
  readonly taskName?: string | undefined
}

/** The outcome of a retried effect with the number of attempts it took, the first included. */
export interface Attempted<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly attempts: number
}

const decodeExit = decodeConfigExit(RetryPolicy, "retry")
// Policies are usually module constants shared by many tasks: decode each one once.
const decodedPolicies = new WeakMap<RetryPolicyInput, Exit.Exit<RetryPolicy, InvalidConfig>>()

/**
 * Decodes a policy as written by a user, synchronously; a bad field gives `InvalidConfig` naming it
 * (`retry.backoffCoefficient`). The outcome is cached per policy object, so a shared policy is decoded once.
 */
export const decodePolicyExit = (input: RetryPolicyInput | undefined): Exit.Exit<RetryPolicy, InvalidConfig> => {
  if (input === null || typeof input !== "object") return decodeExit(input)
  let decoded = decodedPolicies.get(input)
  if (decoded === undefined) {
    decoded = decodeExit(input)
    decodedPolicies.set(input, decoded)
  }
  return decoded
}

/** {@link decodePolicyExit} as an Effect. */
export const decodePolicy = (input: RetryPolicyInput | undefined): Effect.Effect<RetryPolicy, InvalidConfig> =>
  Effect.suspend(() => decodePolicyExit(input))

/** Whether the policy lists the error's `_tag` as non-retryable. */
export const isNonRetryable = (policy: RetryPolicy, error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  const tag = (error as { readonly _tag?: unknown })._tag
  // Stryker disable next-line ConditionalExpression: equivalent, a `_tag` that is not a string is in no decoded `nonRetryable` (strings only)
  return typeof tag === "string" && policy.nonRetryable.includes(tag)
}

/**
 * The policy's backoff as a `Schedule` whose input is the failure: it recurs `maximumAttempts − 1` times, never
 * for a failure whose `_tag` is in `nonRetryable`, and waits before retry n (n from 1)
 * `min(initialInterval × backoffCoefficient^(n−1), maximum) × f`, where `f` is drawn uniformly from
 * `[1 − jitter, 1 + jitter]` with the `Random` service (seed it, or provide a fixed one, to test). The maximum is
 * `maximumInterval`, or 100 × the initial interval. Timeouts and the deadline are applied by {@link retry}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Retry, RetryPolicy } from "effect-orchestrator"
 *
 * const policy = Schema.decodeUnknownSync(RetryPolicy.RetryPolicy)({ initialInterval: 100, jitter: 0 })
 * Effect.fail("boom").pipe(Effect.retry(Retry.toSchedule(policy))) // waits 100 ms, then 200 ms
 * ```
 */
export const toSchedule = (policy: RetryPolicy): Schedule.Schedule<Duration.Duration, unknown> => {
  const cap = Duration.millis(maximumIntervalOf(policy))
  const jitter = policy.jitter
  const backoff = Schedule.exponential(Duration.millis(policy.initialInterval), policy.backoffCoefficient).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, cap)))
  )
  // Stryker disable next-line ConditionalExpression: equivalent, with jitter 0 the factor is exactly 1 (the branch only saves the random draw)
  const jittered = jitter === 0 ? backoff : backoff.pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Random.next, (r) => Duration.millis(Duration.toMillis(duration) * (1 - jitter + 2 * jitter * r)))
    )
  )
  return jittered.pipe(
    Schedule.upTo({ times: policy.maximumAttempts - 1 }),
    Schedule.while(({ input }) => !isNonRetryable(policy, input))
  )
}

const tagOf = (error: unknown): string => {
  const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
  return typeof tag === "string" ? tag : typeof error === "string" ? error : "unknown"
}

// Debug: retries are routine; a failure that exhausts them shows up in the task's own result.
const logRetry = (
  options: RetryOptions<any> | undefined,
  attempt: number,
  delayMillis: number,
  error: unknown
): Effect.Effect<void> =>
  Effect.logDebug(
    `retrying ${options?.taskName ?? "task"} after ${tagOf(error)}: attempt ${attempt + 1} in ${
      Math.round(delayMillis)
    } ms`
  ).pipe(
    Effect.annotateLogs({
      task: options?.taskName ?? "task",
      taskId: options?.taskId ?? "anonymous",
      attempt: attempt + 1,
      delayMillis: Math.round(delayMillis),
      error: tagOf(error)
    })
  )

/**
 * {@link retryCounted} for a policy that is already decoded (by {@link decodePolicy}): no validation on the
 * way, for callers that run many tasks under one policy.
 */
export const retryCountedDecoded = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  options: RetryOptions<E> | undefined
): Effect.Effect<Attempted<A, E | TaskTimeout>, never, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const { attemptTimeout, deadline } = policy
    const deadlineAt = deadline === undefined ? undefined : start + deadline
    const timeout = (timeoutMillis: number) =>
      new TaskTimeout({
        taskId: options?.taskId ?? "anonymous",
        taskName: options?.taskName ?? "task",
        timeoutMillis
      })
    let attempts = 0

    // One attempt, bounded by the per-attempt timeout and by what is left of the deadline, whichever ends first.
    const attempt: Effect.Effect<A, E | TaskTimeout, R> = Effect.suspend(() => {
      attempts++
      if (deadlineAt === undefined && attemptTimeout === undefined) return self
      return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | TaskTimeout, R> => {
        // Stryker disable next-line ConditionalExpression: equivalent, without a deadline there is a per-attempt timeout here, and NaN < it is false as Infinity < it is
        const left = deadlineAt === undefined ? Infinity : deadlineAt - now
        const byDeadline = attemptTimeout === undefined || left < attemptTimeout
        const limit = byDeadline ? left : attemptTimeout
        const error = timeout(byDeadline ? deadline! : attemptTimeout)
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, a retry starts only before the deadline (the schedule's `while`), so `limit` is positive; kept against a clock that jumps
        if (limit <= 0) return Effect.fail(error)
        return Effect.timeoutOrElse(self, { duration: Duration.millis(limit), orElse: () => Effect.fail(error) })
      })
    })

    const isRetryable = options?.isRetryable
    const schedule = toSchedule(policy).pipe(
      Schedule.setInputType<E | TaskTimeout>(),
      Schedule.while(({ duration, input, now }) =>
        (isRetryable === undefined || isRetryable(input)) &&
        (deadlineAt === undefined || now + Duration.toMillis(duration) < deadlineAt)
      ),
      Schedule.tap(({ attempt, duration, input }) => logRetry(options, attempt, Duration.toMillis(duration), input))
    )
    const exit = yield* Effect.exit(Effect.retry(attempt, schedule))
    return { exit, attempts }
  })

/**
 * Runs `self` under a retry policy and returns its exit with the number of attempts, so an orchestrator can put
 * both into a task's result. Fails only with `InvalidConfig`, at once, when the policy is invalid.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-orchestrator"
 *
 * const program = Effect.gen(function*() {
 *   const { attempts, exit } = yield* Retry.retryCounted(Effect.fail("down"), { maximumAttempts: 3, jitter: 0 })
 *   return [attempts, exit._tag] // [3, "Failure"] after 100 + 200 ms
 * })
 * ```
 */
export const retryCounted: {
  <E>(
    policy: RetryPolicyInput,
    options?: RetryOptions<NoInfer<E>>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Attempted<A, E | TaskTimeout>, InvalidConfig, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicyInput,
    options?: RetryOptions<NoInfer<E>>
  ): Effect.Effect<Attempted<A, E | TaskTimeout>, InvalidConfig, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicyInput,
    options?: RetryOptions<E>
  ): Effect.Effect<Attempted<A, E | TaskTimeout>, InvalidConfig, R> =>
    Effect.flatMap(decodePolicy(policy), (decoded) => retryCountedDecoded(self, decoded, options))
)

/**
 * Runs `self` under a retry policy: the last failure comes out when retries end (attempts used up, a
 * non-retryable failure, or the deadline). `InvalidConfig` comes at once when the policy is invalid.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-orchestrator"
 *
 * const call = Effect.fail({ _tag: "BadRequest" as const })
 * // Fails with BadRequest after one attempt: it is not retryable.
 * const program = call.pipe(Retry.retry({ maximumAttempts: 5, nonRetryable: ["BadRequest"] }))
 * ```
 */
export const retry: {
  <E>(
    policy: RetryPolicyInput,
    options?: RetryOptions<NoInfer<E>>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TaskTimeout | InvalidConfig, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicyInput,
    options?: RetryOptions<NoInfer<E>>
  ): Effect.Effect<A, E | TaskTimeout | InvalidConfig, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicyInput,
    options?: RetryOptions<E>
  ): Effect.Effect<A, E | TaskTimeout | InvalidConfig, R> =>
    Effect.flatMap(retryCounted(self, policy, options), ({ exit }) => exit)
)
