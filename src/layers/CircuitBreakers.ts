/**
 * Keyed circuit breakers: one circuit per dependency (a host, a worker pool, a tenant's API), so one failing
 * dependency fails fast without slowing the others.
 *
 * Built on Effect's `effect/persistence` `CircuitBreaker` and its in-memory store, which already give the
 * consecutive-failure and failure-rate trip policies, a single half-open probe, an open duration that backs off
 * on repeated openings, keyed circuits and a transitions stream. This service adds what it lacks: policies as
 * validated data (`CircuitPolicy`, bad input gives `InvalidConfig` naming the field), a per-key policy,
 * rejections as the project's typed `CircuitOpen` error with `retryAfterMillis`, and metrics.
 *
 * States: Closed (calls run; the trip policy counts failures), Open (calls fail at once with `CircuitOpen` until
 * the open duration ends), HalfOpen (the next call is the probe; others are rejected with `CircuitOpen` and
 * `retryAfterMillis: 0` while it runs; its success closes the circuit, its failure reopens it for the next,
 * possibly longer, open duration; an interrupted probe frees the slot).
 *
 * Order of composition: put timeouts and retries inside `execute`, so the breaker sees one outcome per call (a
 * timeout inside counts as a failure), and handle rejections outside it (fallback, or a retry that waits
 * `retryAfterMillis`). `Resilience.apply` composes them in this order.
 *
 * Logs: opening a circuit is a warning, half-opening and closing are info, each annotated with `circuit` (the
 * key), `from` and `to`.
 *
 * Metrics (Prometheus names): `orchestrator_circuit_transitions_total{key,from,to}` counts transitions, and
 * `orchestrator_circuit_state{key}` is 0 while Closed, 1 while HalfOpen and 2 while Open (set on each transition,
 * so a key appears once its circuit has first opened). Keys label series: use one key per dependency, not per
 * request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakers } from "effect-orchestrator"
 *
 * const program = Effect.gen(function*() {
 *   const breakers = yield* CircuitBreakers.CircuitBreakers
 *   return yield* Effect.succeed("quote").pipe(breakers.execute("pricing-api"))
 * }).pipe(
 *   Effect.provide(CircuitBreakers.layer({ policy: { consecutiveFailures: 3, openDuration: 5_000 } }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Exit, Layer, Metric, PubSub, Schedule, Stream } from "effect"
import type { Scope, Take } from "effect"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import { CircuitPolicy, maximumOpenDurationOf } from "../domain/CircuitPolicy.ts"
import type { CircuitPolicyInput } from "../domain/CircuitPolicy.ts"
import { CircuitOpen } from "../domain/OrchestratorError.ts"
import type { InvalidConfig } from "../domain/OrchestratorError.ts"
import { decodeConfig } from "../runtime/config/ConfigValidation.ts"

/**
 * Effect's breaker module, loaded when the first breaker is built rather than imported: `effect/persistence` is
 * not part of the `effect` barrel, and a program that imports this library without using breakers should not
 * load it (with the scheduler's rate limiter, about 3 ms of a fresh program's imports; `npm run bench -- imports`).
 * `require` of an ES module returns the very module instance that `import` gives, synchronously, so building a
 * breaker layer stays synchronous.
 */
let breakerModule: typeof CircuitBreaker | undefined
const breakers = (): typeof CircuitBreaker =>
  breakerModule ??= process.getBuiltinModule("node:module").createRequire(import.meta.url)(
    "effect/persistence/CircuitBreaker"
  ) as typeof CircuitBreaker

/** The state of one circuit. `Open.retryAfterMillis` is the open time left (0 once over: the next call probes). */
export type CircuitState =
  | { readonly _tag: "Closed"; readonly key: string }
  | {
    readonly _tag: "Open"
    readonly key: string
    readonly retryAfterMillis: number
    /** Openings since the backoff last reset, this one included. */
    readonly consecutiveOpenings: number
  }
  | {
    readonly _tag: "HalfOpen"
    readonly key: string
    /** Whether a probe call is running now. */
    readonly probing: boolean
    readonly consecutiveOpenings: number
  }

/** A change of state of one circuit. */
export type Transition =
  | {
    readonly key: string
    readonly from: "Closed" | "HalfOpen"
    readonly to: "Open"
    /** How long this opening lasts. */
    readonly retryAfterMillis: number
    readonly consecutiveOpenings: number
  }
  | { readonly key: string; readonly from: "Open"; readonly to: "HalfOpen" }
  | { readonly key: string; readonly from: "HalfOpen"; readonly to: "Closed" }

/** Options of one guarded call. */
export interface ExecuteOptions<E> {
  /**
   * Whether a typed failure counts against the dependency. Failures it rejects (a validation error, a 404) are
   * recorded as neither success nor failure. Default: every failure counts. Defects always count; interruptions
   * never do.
   */
  readonly isFailure?: ((error: E) => boolean) | undefined
}

/** Configuration of the service: a default policy, and policies for some keys (merged over the default). */
export interface CircuitBreakersConfig {
  readonly policy?: CircuitPolicyInput | undefined
  readonly keys?: Readonly<Record<string, CircuitPolicyInput>> | undefined
}

/** Counts transitions by circuit and edge. */
export const transitionsTotal = Metric.counter("orchestrator_circuit_transitions_total", {
  description: "Circuit breaker state transitions",
  incremental: true
})

/** The state of each circuit: 0 Closed, 1 HalfOpen, 2 Open. */
export const stateGauge = Metric.gauge("orchestrator_circuit_state", {
  description: "Circuit breaker state: 0 closed, 1 half-open, 2 open"
})

const stateCode = { Closed: 0, HalfOpen: 1, Open: 2 } as const

const toTripPolicy = (policy: CircuitPolicy): CircuitBreaker.TripPolicy =>
  policy.trip === "consecutive"
    ? breakers().consecutive(policy.consecutiveFailures)
    : breakers().rate({
      threshold: policy.failureRateThreshold,
      size: policy.rateWindowSize,
      minimumCalls: policy.rateMinimumCalls ?? policy.rateWindowSize
    })

// Opening n lasts min(open × coefficient^(n−1), maximum); Effect's breaker replays this schedule per opening.
const toOpenDuration = (policy: CircuitPolicy): Duration.Input | Schedule.Schedule<unknown, number> => {
  if (policy.openBackoffCoefficient === 1) return Duration.millis(policy.openDuration)
  const cap = Duration.millis(maximumOpenDurationOf(policy))
  return Schedule.exponential(Duration.millis(policy.openDuration), policy.openBackoffCoefficient).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, cap)))
  )
}

const toState = (state: CircuitBreaker.State): CircuitState => {
  switch (state._tag) {
    case "Closed":
      return state
    case "Open":
      return {
        _tag: "Open",
        key: state.key,
        retryAfterMillis: Duration.toMillis(state.retryAfter),
        consecutiveOpenings: state.consecutiveOpenings
      }
    case "HalfOpen":
      return state
  }
}

const toTransition = (transition: CircuitBreaker.Transition): Transition =>
  transition.to === "Open"
    ? {
      key: transition.key,
      from: transition.from,
      to: "Open",
      retryAfterMillis: Duration.toMillis(transition.retryAfter),
      consecutiveOpenings: transition.consecutiveOpenings
    }
    : transition

// Opening is what an operator must hear about (a dependency is failing); probing and closing are its recovery.
const logTransition = (transition: Transition): Effect.Effect<void> => {
  const annotations = { circuit: transition.key, from: transition.from, to: transition.to }
  switch (transition.to) {
    case "Open":
      return Effect.logWarning(
        `circuit ${transition.key} opened (from ${transition.from}): calls fail with CircuitOpen for ${transition.retryAfterMillis} ms`
      ).pipe(Effect.annotateLogs({ ...annotations, retryAfterMillis: transition.retryAfterMillis }))
    case "HalfOpen":
      return Effect.logInfo(`circuit ${transition.key} half-open: the next call probes`).pipe(
        Effect.annotateLogs(annotations)
      )
    case "Closed":
      return Effect.logInfo(`circuit ${transition.key} closed: calls run again`).pipe(Effect.annotateLogs(annotations))
  }
}

// A rejected call never ran. HalfOpen rejections (a probe is running) are not time-gated: retryAfterMillis is 0
// and the caller backs off on its own schedule. The memory store cannot fail, so a store error is a bug.
const rejection = (error: CircuitBreaker.CircuitBreakerError): Effect.Effect<never, CircuitOpen> => {
  const reason = error.reason
  switch (reason._tag) {
    case "CircuitOpen":
      return Effect.fail(new CircuitOpen({ key: reason.key, retryAfterMillis: Duration.toMillis(reason.retryAfter) }))
    case "CircuitHalfOpen":
      return Effect.fail(new CircuitOpen({ key: reason.key, retryAfterMillis: 0 }))
    case "CircuitBreakerStoreError":
      return Effect.die(error)
  }
}

/** The service's shape. */
export interface CircuitBreakersService {
  /**
   * Runs `self` through the circuit of `key`. A call the circuit rejects does not run and fails at once with
   * `CircuitOpen`; the call's own failures pass through unchanged.
   */
  readonly execute: (
    key: string,
    options?: ExecuteOptions<unknown>
  ) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  /** The state of the circuit of `key`; a key never used reads Closed. */
  readonly state: (key: string) => Effect.Effect<CircuitState>
  /**
   * Transitions of every circuit of this service, from the moment the stream is subscribed (fork its consumer with
   * `{ startImmediately: true }` to see the transitions of calls made right after). Ends when the layer closes.
   */
  readonly transitions: Stream.Stream<Transition>
}

// Decorates a store so that every transition it makes is seen in the caller's fiber, before the call returns:
// counted in the metrics and published, with none missed (the breaker's own stream only reaches subscribers that
// are already running).
const observeStore = (
  store: CircuitBreaker.CircuitBreakerStore["Service"],
  onTransition: (transition: CircuitBreaker.Transition) => Effect.Effect<void>
): CircuitBreaker.CircuitBreakerStore["Service"] => {
  const observe = (transition: CircuitBreaker.Transition | undefined) =>
    transition === undefined ? Effect.void : onTransition(transition)
  return breakers().CircuitBreakerStore.of({
    admit: (key) => Effect.tap(store.admit(key), (admission) => observe(admission.transition)),
    record: (options) => Effect.tap(store.record(options), observe),
    state: store.state
  })
}

/**
 * Builds the service over the current `CircuitBreakerStore` (the memory store in {@link CircuitBreakers.layer},
 * which cannot fail: with a store that can, store errors would surface as defects).
 */
export const make = (
  config: CircuitBreakersConfig = {}
): Effect.Effect<CircuitBreakersService, InvalidConfig, CircuitBreaker.CircuitBreakerStore | Scope.Scope> =>
  Effect.gen(function*() {
    const Breaker = breakers()
    const defaultInput = config.policy ?? {}
    const defaultPolicy = yield* decodeConfig(CircuitPolicy, "breaker.policy")(defaultInput)
    const keyPolicies: Array<readonly [string, CircuitPolicy]> = []
    for (const [key, input] of Object.entries(config.keys ?? {})) {
      const policy = yield* decodeConfig(CircuitPolicy, `breaker.keys.${key}`)({ ...defaultInput, ...input })
      keyPolicies.push([key, policy])
    }

    const hub = yield* PubSub.sliding<Take.Take<Transition>>(1024)
    yield* Effect.addFinalizer(() => PubSub.end(hub, Exit.void))
    const onTransition = (raw: CircuitBreaker.Transition) => {
      const transition = toTransition(raw)
      return Effect.andThen(
        Metric.update(
          Metric.withAttributes(transitionsTotal, { key: transition.key, from: transition.from, to: transition.to }),
          1
        ),
        Metric.update(Metric.withAttributes(stateGauge, { key: transition.key }), stateCode[transition.to])
      ).pipe(
        Effect.andThen(logTransition(transition)),
        Effect.andThen(PubSub.publish(hub, [transition])),
        Effect.asVoid
      )
    }
    const store = observeStore(yield* Breaker.CircuitBreakerStore, onTransition)
    const breakerOf = (policy: CircuitPolicy) =>
      Breaker.make({ tripPolicy: toTripPolicy(policy), openDuration: toOpenDuration(policy) }).pipe(
        Effect.provideService(Breaker.CircuitBreakerStore, store)
      )

    // One breaker per distinct policy; keys share the store, and each key has one policy, so circuits never mix.
    const fallback = yield* breakerOf(defaultPolicy)
    const perKey = new Map<string, CircuitBreaker.CircuitBreaker>()
    for (const [key, policy] of keyPolicies) perKey.set(key, yield* breakerOf(policy))
    const breakerFor = (key: string) => perKey.get(key) ?? fallback

    const execute =
      (key: string, options?: ExecuteOptions<unknown>) =>
      <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
        Effect.suspend(() => {
          // Only a call that was not admitted fails with the breaker's own error; the call's errors pass through.
          let admitted = false
          const isFailure = options?.isFailure
          const call = Effect.suspend(() => {
            admitted = true
            return self
          })
          return breakerFor(key).execute(call, {
            key,
            classify: isFailure === undefined ? undefined : (exit: Exit.Exit<A, E>): CircuitBreaker.Outcome => {
              if (Exit.isSuccess(exit)) return Breaker.success
              const error = Cause.findErrorOption(exit.cause)
              return error._tag === "Some" && !isFailure(error.value)
                ? Breaker.ignored
                : Breaker.failure()
            }
          }).pipe(
            Effect.catch((error: E | CircuitBreaker.CircuitBreakerError): Effect.Effect<never, E | CircuitOpen> =>
              !admitted && error instanceof Breaker.CircuitBreakerError
                ? rejection(error)
                : Effect.fail(error as E)
            )
          )
        })

    return {
      execute,
      state: (key) => breakerFor(key).state(key).pipe(Effect.map(toState), Effect.orDie),
      transitions: Stream.fromPubSubTake(hub)
    } satisfies CircuitBreakersService
  })

/**
 * Keyed circuit breakers as a service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakers } from "effect-orchestrator"
 *
 * const layer = CircuitBreakers.layer({
 *   policy: { trip: "rate", failureRateThreshold: 0.5, rateWindowSize: 20, openDuration: 1_000 },
 *   keys: { payments: { trip: "consecutive", consecutiveFailures: 3 } }
 * })
 * const program = Effect.gen(function*() {
 *   const breakers = yield* CircuitBreakers.CircuitBreakers
 *   const state = yield* breakers.state("payments") // { _tag: "Closed", key: "payments" }
 * }).pipe(Effect.provide(layer))
 * ```
 */
export class CircuitBreakers extends Context.Service<CircuitBreakers, CircuitBreakersService>()(
  "effect-orchestrator/CircuitBreakers"
) {}

/**
 * The service with an in-memory store, local to this layer. Fails with `InvalidConfig` naming a bad field.
 *
 * @example
 * ```ts
 * import { CircuitBreakers } from "effect-orchestrator"
 *
 * const layer = CircuitBreakers.layer({ policy: { consecutiveFailures: 3, openDuration: "5 seconds" } })
 * ```
 */
export const layer = (config?: CircuitBreakersConfig): Layer.Layer<CircuitBreakers, InvalidConfig> =>
  Layer.effect(CircuitBreakers, make(config)).pipe(Layer.provide(breakers().layerStoreMemory()))
