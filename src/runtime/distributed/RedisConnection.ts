/**
 * Redis connections for the distributed queue: one ioredis client per role, opened within a bounded time and
 * closed by the scope. BullMQ gets the client instances (never connection options), so it never loads a
 * driver on its own and every connection it uses is ours to close.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Duration, Scope } from "effect"
import type { Redis } from "ioredis"
import type { ConnectionOptions as TlsOptions } from "node:tls"
import { RedisUnavailable } from "../../domain/DistributedError.ts"
import { InvalidConfig } from "../../domain/OrchestratorError.ts"
import { ioredis } from "./Drivers.ts"
import { millisOf } from "./QueueSettings.ts"

/** Where Redis is and how to authenticate. Every field has a default. */
export interface RedisOptions {
  /** Default `"127.0.0.1"`. Bind Redis to a private address in production. */
  readonly host?: string | undefined
  /** Default 6379. */
  readonly port?: number | undefined
  /** ACL user (Redis 6+); with `password`. */
  readonly username?: string | undefined
  /** `requirepass`, or the ACL user's password. */
  readonly password?: string | undefined
  /** Database index. Default 0. */
  readonly db?: number | undefined
  /** TLS: `true` for the system's CAs, or Node's TLS options (CA, client certificate, server name). */
  readonly tls?: boolean | TlsOptions | undefined
  /** How long building a layer waits for Redis before it fails with `RedisUnavailable`. Default 5 s. */
  readonly connectTimeout?: Duration.Input | undefined
}

/** The connect timeout in ms, or `InvalidConfig` (`redis.connectTimeout`) when it is not a positive duration. */
export const connectTimeoutOf = (options: RedisOptions): number | InvalidConfig => {
  if (options.connectTimeout === undefined) return 5_000
  const millis = millisOf(options.connectTimeout, "redis.connectTimeout")
  return millis instanceof InvalidConfig || millis > 0 ? millis : new InvalidConfig({
    field: "redis.connectTimeout",
    value: String(options.connectTimeout),
    detail: "must be a positive duration"
  })
}

/** The address in errors and logs. */
export const addressOf = (options: RedisOptions): { readonly host: string; readonly port: number } => ({
  host: options.host ?? "127.0.0.1",
  port: options.port ?? 6379
})

const describe = (error: unknown): string =>
  error instanceof Error ? (error.message || (error as { code?: string }).code || error.name) : String(error)

/**
 * Opens one client and waits until it is ready. Fails with `RedisUnavailable` naming host and port when Redis
 * does not answer within `timeoutMillis` ({@link connectTimeoutOf}; or refuses the password). After that the client reconnects on
 * its own, forever, with a delay growing to 1 s, and commands issued while it is away wait for it.
 */
export const connect = (
  options: RedisOptions,
  role: string,
  timeout: number
): Effect.Effect<Redis, RedisUnavailable, Scope.Scope> => {
  const { host, port } = addressOf(options)
  const unavailable = (detail: string) => new RedisUnavailable({ host, port, detail })
  return Effect.acquireRelease(
    Effect.flatMap(ioredis, ({ Redis }) =>
      Effect.callback<Redis, RedisUnavailable>((resume) => {
        const client = new Redis({
          host,
          port,
          ...(options.username === undefined ? {} : { username: options.username }),
          ...(options.password === undefined ? {} : { password: options.password }),
          ...(options.db === undefined ? {} : { db: options.db }),
          ...(options.tls === undefined || options.tls === false
            ? {}
            : { tls: options.tls === true ? {} : options.tls }),
          connectionName: `effect-orchestrator:${role}`,
          lazyConnect: true,
          // BullMQ's blocking commands require it; a command waits for the reconnection instead of failing.
          maxRetriesPerRequest: null,
          connectTimeout: timeout,
          retryStrategy: (times) => Math.min(50 * times, 1_000)
        })
        let lastError = "no answer"
        let settled = false
        const onError = (error: unknown) => {
          lastError = describe(error)
          // A wrong password never gets better: fail at once instead of waiting for the timeout.
          if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(lastError)) finish(unavailable(lastError))
        }
        const finish = (error: RedisUnavailable | undefined) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          client.off("ready", onReady)
          if (error === undefined) return resume(Effect.succeed(client))
          client.disconnect()
          resume(Effect.fail(error))
        }
        const onReady = () => finish(undefined)
        const timer = setTimeout(
          () => finish(unavailable(`not ready within ${timeout} ms (last error: ${lastError})`)),
          timeout
        )
        // Errors after the first connection are reconnection attempts: ioredis retries them itself.
        client.on("error", onError)
        client.once("ready", onReady)
        client.connect().catch(onError)
        return Effect.sync(() => {
          if (!settled) {
            settled = true
            clearTimeout(timer)
            client.disconnect()
          }
        })
      })),
    (client) =>
      Effect.promise(() =>
        Promise.race([
          client.quit().catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, 1_000).unref())
        ]).then(() => client.disconnect())
      )
  )
}

/** Whether the client can send commands right now (not reconnecting). */
export const isReady = (client: Redis): boolean => client.status === "ready"
