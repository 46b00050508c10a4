// Server process of the http benchmark: an Effect HTTP server on 127.0.0.1 whose `GET /work` computes
// fib(27) inline, on piscina or on our pool, and whose `GET /health` answers inline. Started and stopped by
// `http.bench.ts` over IPC: it sends `{ port }` once listening, resets its event-loop delay histogram on
// "reset", answers "stats" with the delay percentiles, and shuts down (pool, then server) on "stop".
import { NodeHttpServer } from "@effect/platform-node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Piscina } from "piscina"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { Fib, fib } from "../workers/pool-tasks.ts"

const FIB_N = 27
const THREADS = 2

const contender = process.argv[2] ?? "ours"
/** Extra pool options for `ours` (JSON), to compare settings in one run. */
const extra = JSON.parse(process.argv[3] ?? "{}") as WorkerPool.Options

const send = (message: unknown): void => {
  process.send?.(message)
}

const work = (): Effect.Effect<(n: number) => Effect.Effect<number, unknown>, unknown, Scope.Scope> => {
  if (contender === "inline") return Effect.succeed((n) => Effect.sync(() => fib(n)))
  if (contender === "piscina") {
    return Effect.acquireRelease(
      Effect.sync(() =>
        new Piscina({
          filename: new URL("../workers/pool-piscina.ts", import.meta.url).href,
          minThreads: THREADS,
          maxThreads: THREADS
        })
      ),
      (pool) => Effect.promise(() => pool.destroy())
    ).pipe(
      Effect.tap((pool) => Effect.promise(() => pool.run(1, { name: "fib" }))),
      Effect.map((pool) => (n: number) => Effect.promise(() => pool.run(n, { name: "fib" }) as Promise<number>))
    )
  }
  return WorkerPool.make({
    entry: new URL("../workers/pool-worker.ts", import.meta.url),
    minWorkers: THREADS,
    maxWorkers: THREADS,
    ...extra
  }).pipe(
    Effect.tap((pool) => pool.run(Fib, 1)),
    Effect.map((pool) => (n: number) => pool.run(Fib, n))
  )
}

const program = Effect.gen(function*() {
  const run = yield* work()
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  yield* Effect.addFinalizer(() => Effect.sync(() => delay.disable()))
  const server = yield* NodeHttpServer.make(() => http.createServer(), { port: 0, host: "127.0.0.1" })
  yield* server.serve(
    Effect.gen(function*() {
      const request = yield* HttpServerRequest
      if (request.url === "/health") return HttpServerResponse.text("ok")
      if (request.url === "/work") return HttpServerResponse.text(String(yield* run(FIB_N)))
      return HttpServerResponse.empty({ status: 404 })
    }).pipe(Effect.catchCause(() => Effect.succeed(HttpServerResponse.empty({ status: 500 }))))
  )
  const stop = yield* Deferred.make<void>()
  process.on("message", (message) => {
    if (message === "reset") delay.reset()
    else if (message === "stats") {
      send({ stats: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 } })
    } else if (message === "stop") Deferred.doneUnsafe(stop, Effect.void)
  })
  // The driver gone (killed, crashed): nothing left to serve.
  process.on("disconnect", () => Deferred.doneUnsafe(stop, Effect.void))
  const address = server.address
  send({ port: "port" in address ? address.port : 0 })
  yield* Deferred.await(stop)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
