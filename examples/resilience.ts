// Retries with exponential backoff, a circuit breaker and a fallback, around a flaky simulated service.
// `Resilience.apply` composes them inside out: retries inside the breaker (the breaker sees one outcome per
// request), the fallback outside everything; the orchestrator runs each request as an io task.
import { Effect, Schema, Stream } from "effect"
import { CircuitBreakers, Orchestrator, Resilience, Task } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { bold, dim, line, ms } from "./terminal.ts"

/** What the simulated service answers when it is down. */
class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { status: Schema.Number }) {}

type Health = { readonly _tag: "up" } | { readonly _tag: "down" } | { readonly _tag: "flaky"; failures: number }

interface Quote {
  readonly price: number
  readonly source: string
}

const key = "pricing-api"
const cachedPrice = 41.5

export const example: Example = {
  name: "resilience",
  summary: "retries with backoff, a circuit breaker and a fallback around a flaky simulated service",
  program: ({ small }) => {
    const openMillis = small ? 300 : 1_000
    const retry = { maximumAttempts: 3, initialInterval: small ? 20 : 100, backoffCoefficient: 2, jitter: 0 }
    return Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const breakers = yield* CircuitBreakers.CircuitBreakers

      // The simulated service: in-process, its health set by the script below.
      let health: Health = { _tag: "up" }
      let requestStart = 0
      let attempt = 0
      const callService: Effect.Effect<Quote, Unavailable> = Effect.gen(function*() {
        // Lets the transition printer run first, so its lines come out in order.
        yield* Effect.yieldNow
        attempt++
        const at = `    attempt ${attempt}  ${dim(`+${ms(Math.round(performance.now() - requestStart))}`.padEnd(8))}`
        const fails = health._tag === "down" || (health._tag === "flaky" && health.failures-- > 0)
        if (fails) {
          yield* line(`${at}  503 Unavailable`)
          return yield* new Unavailable({ status: 503 })
        }
        yield* line(`${at}  200 OK`)
        return { price: 42, source: key }
      })

      const request = (title: string, next: Health) =>
        Effect.gen(function*() {
          health = next
          yield* line(title)
          requestStart = performance.now()
          attempt = 0
          const quote = yield* orchestrator.run(Task.make(
            callService.pipe(Resilience.apply({
              retry,
              breaker: { key },
              fallback: {
                effect: (error): Effect.Effect<Quote> =>
                  Effect.succeed({
                    price: cachedPrice,
                    source: error._tag === "CircuitOpen"
                      ? `the cache (fallback: circuit open, retry in ${ms(error.retryAfterMillis)})`
                      : `the cache (fallback after ${error._tag})`
                  })
              }
            })),
            { name: "quote", kind: "io" }
          ))
          yield* Effect.yieldNow
          if (attempt === 0) yield* line(`    ${dim("no attempt: the open circuit rejected the request at once")}`)
          yield* line(`  → ${quote.price.toFixed(2)} from ${quote.source}`)
          return quote
        })

      yield* line(
        `${key}: ${retry.maximumAttempts} attempts per request, backoff ${retry.initialInterval} ms ×2;` +
          ` the circuit opens after 2 failed requests, for ${openMillis} ms`
      )
      yield* Effect.forkChild(
        Stream.runForEach(
          breakers.transitions,
          (t) =>
            line(
              `  ${bold(`circuit ${t.key}: ${t.from} → ${t.to}`)}${
                t.to === "Open" ? ` for ${ms(t.retryAfterMillis)}` : ""
              }`
            )
        ),
        { startImmediately: true }
      )

      const quotes = [
        yield* request("request 1, service flaky (its next 2 calls fail): the retries rescue it", {
          _tag: "flaky",
          failures: 2
        }),
        yield* request("request 2, service down: retries spent, the fallback answers", { _tag: "down" }),
        yield* request("request 3, still down: a second failed request opens the circuit", { _tag: "down" }),
        yield* request("request 4, circuit open: the service is not even called", { _tag: "down" })
      ]
      // A little longer than the open time, so that the next request is sure to find the circuit half-open.
      const waitMillis = openMillis + 50
      yield* line(dim(`waiting ${ms(waitMillis)} while the service recovers...`))
      yield* Effect.sleep(`${waitMillis} millis`)
      quotes.push(yield* request("request 5, service up: this call is the circuit's probe", { _tag: "up" }))

      const state = yield* breakers.state(key)
      const fromService = quotes.filter((q) => q.source === key).length
      yield* line(bold(
        `  ${quotes.length} requests: ${fromService} answered by ${key}, ${quotes.length - fromService} by the` +
          ` fallback; circuit ${state._tag}`
      ))
    }).pipe(
      Effect.provide(
        CircuitBreakers.layer({ policy: { consecutiveFailures: 2, openDuration: openMillis } })
      )
    )
  }
}
