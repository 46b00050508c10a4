/**
 * Retry, timeouts, circuit breaker and fallback composed in one decided order, inside out:
 *
 * 1. per-attempt timeout (`retry.attemptTimeout`): a hung attempt fails with `TaskTimeout`;
 * 2. retries with backoff (`retry`), bounded by the overall deadline (`retry.deadline`);
 * 3. the circuit breaker (`breaker.key`): it sees one outcome per call (retries spent = one failure; a timeout
 *    is a failure), and a rejected call fails fast with `CircuitOpen` without running;
 * 4. the fallback (`fallback`): replaces what is left, `CircuitOpen` included.
 *
 * Why this order: a breaker outside the retries does not open on failures a retry would have rescued, and it
 * stops a whole retry loop from hammering a dependency that is known down; a fallback outside everything runs
 * once, only when nothing else helped. `InvalidConfig` is never replaced by a fallback: a bad policy fails at
 * once, before the task runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakers, Resilience } from "effect-orchestrator"
 *
 * const fetchRates = Effect.fail({ _tag: "Unavailable" as const })
 * const program = fetchRates.pipe(
 *   Resilience.apply({
 *     retry: { initialInterval: 100, maximumAttempts: 3, attemptTimeout: 1_000 },
 *     breaker: { key: "rates-api" },
 *     fallback: { value: { eur: 1 } }
 *   })
 * ) // Effect<{ eur: number }, InvalidConfig, CircuitBreakers.CircuitBreakers>
 * program.pipe(Effect.provide(CircuitBreakers.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { dual } from "effect/Function"
import type { CircuitOpen, InvalidConfig, TaskTimeout } from "../domain/OrchestratorError.ts"
import type { RetryPolicyInput } from "../domain/RetryPolicy.ts"
import type { Fallback } from "../runtime/resilience/Fallback.ts"
import { withFallback } from "../runtime/resilience/Fallback.ts"
import { decodePolicy, retry } from "../runtime/resilience/Retry.ts"
import type { RetryOptions } from "../runtime/resilience/Retry.ts"
import { CircuitBreakers } from "./CircuitBreakers.ts"
import type { ExecuteOptions } from "./CircuitBreakers.ts"

/** Which resilience steps to apply; each is optional. */
export interface ResiliencePolicy<E> extends RetryOptions<E> {
  readonly retry?: RetryPolicyInput | undefined
  readonly breaker?: ({ readonly key: string } & ExecuteOptions<unknown>) | undefined
  readonly fallback?: Fallback<E | TaskTimeout | CircuitOpen, unknown, unknown, unknown> | undefined
}

type FallbackOf<P> = P extends { readonly fallback: infer F } ? F : never

/** The error channel after `apply`: a fallback replaces every error but `InvalidConfig`. */
export type ErrorOf<E, P> = [FallbackOf<P>] extends [never] ?
    | E
    | InvalidConfig
    | (P extends { readonly retry: RetryPolicyInput } ? TaskTimeout : never)
    | (P extends { readonly breaker: { readonly key: string } } ? CircuitOpen : never)
  : FallbackOf<P> extends { readonly effect: (error: any) => Effect.Effect<any, infer E2, any> } ? E2 | InvalidConfig
  : InvalidConfig

/** The success channel after `apply`: the task's value, or the fallback's. */
export type SuccessOf<A, P> = [FallbackOf<P>] extends [never] ? A
  : FallbackOf<P> extends { readonly value: infer B } ? A | B
  : FallbackOf<P> extends { readonly effect: (error: any) => Effect.Effect<infer B, any, any> } ? A | B
  : A

/** The requirements after `apply`: `CircuitBreakers` when a breaker is used, plus the fallback's. */
export type RequirementsOf<R, P> =
  | R
  | (P extends { readonly breaker: { readonly key: string } } ? CircuitBreakers : never)
  | ([FallbackOf<P>] extends [never] ? never
    : FallbackOf<P> extends { readonly effect: (error: any) => Effect.Effect<any, any, infer R2> } ? R2
    : never)

/**
 * Applies a resilience policy to `self`, in the order documented on this module.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resilience } from "effect-orchestrator"
 *
 * Effect.fail("down").pipe(Resilience.apply({ retry: { maximumAttempts: 2 }, fallback: { value: "cached" } }))
 * ```
 */
export const apply: {
  <E, const P extends ResiliencePolicy<NoInfer<E>>>(
    policy: P
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<SuccessOf<A, P>, ErrorOf<E, P>, RequirementsOf<R, P>>
  <A, E, R, const P extends ResiliencePolicy<NoInfer<E>>>(
    self: Effect.Effect<A, E, R>,
    policy: P
  ): Effect.Effect<SuccessOf<A, P>, ErrorOf<E, P>, RequirementsOf<R, P>>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: ResiliencePolicy<E>): Effect.Effect<any, any, any> =>
    Effect.gen(function*() {
      // Decoded first, outside the fallback, so a bad policy is reported and never hidden by the fallback.
      const retryPolicy = policy.retry === undefined ? undefined : yield* decodePolicy(policy.retry)
      let guarded: Effect.Effect<A, unknown, any> = retryPolicy === undefined ? self : retry(self, retryPolicy, policy)
      const breaker = policy.breaker
      if (breaker !== undefined) {
        const breakers = yield* CircuitBreakers
        guarded = breakers.execute(breaker.key, breaker)(guarded)
      }
      return yield* (policy.fallback === undefined
        ? guarded
        : withFallback(guarded, policy.fallback as Fallback<unknown, unknown, unknown, unknown>))
    })
)
