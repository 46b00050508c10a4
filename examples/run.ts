// The examples' command line: `npm run example -- NAME [--small]` runs one example; with no name it runs the
// tour, every example in turn on small inputs.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import { example as background } from "./background.ts"
import { example as batch } from "./batch.ts"
import { example as blocking } from "./blocking.ts"
import { example as distributed } from "./distributed.ts"
import { layer } from "./example.ts"
import type { Example } from "./example.ts"
import { example as fibonacci } from "./fibonacci.ts"
import { example as matrix } from "./matrix.ts"
import { example as metrics } from "./metrics.ts"
import { example as mixed } from "./mixed.ts"
import { example as primes } from "./primes.ts"
import { example as resilience } from "./resilience.ts"
import { bold, dim, line } from "./terminal.ts"

const examples: ReadonlyArray<Example> = [
  fibonacci,
  matrix,
  primes,
  blocking,
  mixed,
  resilience,
  batch,
  background,
  metrics
]

// Run by name only, not in the tour: it needs a Redis (it starts a local redis-server when none is given).
const standalone: ReadonlyArray<Example> = [distributed]

const usage = [
  "usage: npm run example -- [NAME] [--small]",
  "",
  "  NAME     one of the examples below; without it, the tour runs them all on small inputs",
  "  --small  small inputs (what the tour and the test suite use)",
  "",
  ...examples.map((e) => `  ${e.name.padEnd(11)} ${e.summary}`),
  ...standalone.map((e) => `  ${e.name.padEnd(11)} ${e.summary} (not in the tour)`)
].join("\n")

const args = process.argv.slice(2)
const small = args.includes("--small")
const names = args.filter((arg) => !arg.startsWith("--"))
const unknownFlags = args.filter((arg) => arg.startsWith("--") && arg !== "--small" && arg !== "--help")

const heading = (example: Example, index: number, total: number) =>
  line(`\n${bold(`▶ ${example.name}`)} ${dim(`(${index + 1}/${total})`)}  ${example.summary}`)

const tour = Effect.gen(function*() {
  const start = performance.now()
  yield* line(bold("effect-orchestrator: a tour of the examples, on small inputs"))
  for (const [index, example] of examples.entries()) {
    yield* heading(example, index, examples.length)
    yield* example.program({ small: true })
  }
  yield* line(`\n${bold("tour finished")} in ${((performance.now() - start) / 1000).toFixed(1)} s`)
})

// A command-line mistake is not a failure of the program: say so plainly and exit with 2, like other CLIs.
const usageError = (message: string) =>
  Effect.andThen(Console.error(`${message}\n\n${usage}`), Effect.sync(() => void (process.exitCode = 2)))

const main: Effect.Effect<void, unknown> = Effect.suspend(() => {
  if (args.includes("--help")) return line(usage)
  if (unknownFlags.length > 0 || names.length > 1) return usageError(`unexpected arguments: ${args.join(" ")}`)
  if (names.length === 0) return tour.pipe(Effect.provide(layer))
  const example = [...examples, ...standalone].find((e) => e.name === names[0])
  if (example === undefined) return usageError(`unknown example "${names[0]}"`)
  return Effect.andThen(heading(example, 0, 1), example.program({ small })).pipe(Effect.provide(layer))
})

main.pipe(NodeRuntime.runMain)
