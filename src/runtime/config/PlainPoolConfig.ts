/**
 * The pool's configuration decoded without the schema when it is written the way most programs write it: no
 * field, or plain numbers (and the mode as one of its literals). Decoding `PoolConfig` with its schema first
 * compiles the schema's parser, 5-16 ms of the main thread in a fresh process, before the pool can start its
 * first worker; this takes microseconds. Anything else (a duration as a string or a `Duration`, resource limits,
 * histogram buckets, a value out of range) gives undefined, and the schema decodes it and reports what is wrong,
 * so both paths give the same configuration (a property spec checks it).
 *
 * @internal
 */
import type { PoolConfig, PoolConfigInput } from "../../domain/Config.ts"
import { poolDefaults } from "../../domain/Config.ts"

type Check = (value: unknown) => boolean

const int = (minimum: number): Check => (value) =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= minimum
const finite = (above: (n: number) => boolean): Check => (value) =>
  typeof value === "number" && Number.isFinite(value) && above(value)
const nonNegative = finite((n) => n >= 0)
const positive = finite((n) => n > 0)

/** The fields this path decodes: each given value must pass its check, and is taken as it is. */
const checks: Partial<Record<keyof PoolConfigInput, Check>> = {
  minWorkers: int(0),
  maxWorkers: int(1),
  concurrentTasksPerWorker: int(1),
  pipelineDepth: int(1),
  idleTimeout: nonNegative,
  maxTasksPerWorker: int(1),
  maxHeapMb: positive,
  taskTimeout: positive,
  terminationGrace: nonNegative,
  shutdownDeadline: nonNegative,
  maxBootFailures: int(1),
  bootTimeout: positive,
  mode: (value) => value === "thread" || value === "process",
  niceIncrement: (value) => int(0)(value) && (value as number) <= 19
}

/** The decoded configuration of `input` (its keys with undefined values left out), or undefined: see above. */
export const plainPoolConfig = (input: PoolConfigInput): PoolConfig | undefined => {
  const given = input as Record<string, unknown>
  for (const key in given) {
    const value = given[key]
    if (value === undefined) continue
    const check = checks[key as keyof PoolConfigInput]
    if (check === undefined || !check(value)) return undefined
  }
  const config: Record<string, unknown> = { ...poolDefaults }
  for (const key in given) if (given[key] !== undefined) config[key] = given[key]
  return (config.maxWorkers as number) >= (config.minWorkers as number) ? config as PoolConfig : undefined
}
