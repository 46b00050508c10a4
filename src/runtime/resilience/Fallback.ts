/**
 * Fallbacks: what a task gives instead of failing. A fallback is a value or an effect computed from the error,
 * applied to every typed failure ({@link withFallback}) or only to circuit rejections ({@link onCircuitOpen}).
 *
 * Fallbacks go outermost: outside the circuit breaker, which is outside retries and timeouts, so a fallback runs
 * once, after retries are spent or when the circuit rejects the call (see `Resilience.apply`). Defects and
 * interruptions are not replaced: a bug or a cancelled caller must stay visible.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "effect-orchestrator"
 *
 * const price = Effect.fail({ _tag: "Unavailable" as const })
 * const withCached = price.pipe(Fallback.withFallback({ value: 42 }))                 // Effect<number>
 * const withOther = price.pipe(Fallback.withFallback({ effect: () => Effect.succeed(41) }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { dual } from "effect/Function"
import type { CircuitOpen } from "../../domain/OrchestratorError.ts"

/** A fallback: a constant `value`, or an `effect` computed from the failure. */
export type Fallback<E, B, E2 = never, R2 = never> =
  | { readonly value: B }
  | { readonly effect: (error: E) => Effect.Effect<B, E2, R2> }

const run = <E, B, E2, R2>(fallback: Fallback<E, B, E2, R2>, error: E): Effect.Effect<B, E2, R2> =>
  "effect" in fallback ? fallback.effect(error) : Effect.succeed(fallback.value)

const isCircuitOpen = (error: unknown): error is CircuitOpen =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "CircuitOpen"

/**
 * Replaces every typed failure of `self` with the fallback.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "effect-orchestrator"
 *
 * Effect.fail("down").pipe(Fallback.withFallback({ effect: (e) => Effect.succeed(`fallback after ${e}`) }))
 * ```
 */
export const withFallback: {
  <E, B, E2 = never, R2 = never>(
    fallback: Fallback<NoInfer<E>, B, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | B, E2, R | R2>
  <A, E, R, B, E2 = never, R2 = never>(
    self: Effect.Effect<A, E, R>,
    fallback: Fallback<NoInfer<E>, B, E2, R2>
  ): Effect.Effect<A | B, E2, R | R2>
} = dual(
  2,
  <A, E, R, B, E2, R2>(
    self: Effect.Effect<A, E, R>,
    fallback: Fallback<E, B, E2, R2>
  ): Effect.Effect<A | B, E2, R | R2> => Effect.catch(self, (error) => run(fallback, error))
)

/**
 * Replaces only `CircuitOpen` rejections with the fallback; other failures pass through.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakers, Fallback } from "effect-orchestrator"
 *
 * const quote = Effect.gen(function*() {
 *   const breakers = yield* CircuitBreakers.CircuitBreakers
 *   return yield* Effect.succeed(10).pipe(breakers.execute("pricing"), Fallback.onCircuitOpen({ value: 0 }))
 * })
 * ```
 */
export const onCircuitOpen: {
  <B, E2 = never, R2 = never>(
    fallback: Fallback<CircuitOpen, B, E2, R2>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | B, Exclude<E, CircuitOpen> | E2, R | R2>
  <A, E, R, B, E2 = never, R2 = never>(
    self: Effect.Effect<A, E, R>,
    fallback: Fallback<CircuitOpen, B, E2, R2>
  ): Effect.Effect<A | B, Exclude<E, CircuitOpen> | E2, R | R2>
} = dual(
  2,
  <A, E, R, B, E2, R2>(
    self: Effect.Effect<A, E, R>,
    fallback: Fallback<CircuitOpen, B, E2, R2>
  ): Effect.Effect<A | B, Exclude<E, CircuitOpen> | E2, R | R2> =>
    Effect.catchIf(
      self,
      (error) => isCircuitOpen(error),
      (error) => run(fallback, error as CircuitOpen)
    ) as Effect.Effect<
      A | B,
      Exclude<E, CircuitOpen> | E2,
      R | R2
    >
)
