// The examples' command line, with `effect/cli`: `npm run example -- NAME [--small]` runs one example; with no
// name it runs the tour, every example in turn on small inputs. `--help` lists them.
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
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

const names = [...examples, ...standalone].map((e) => e.name)

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

const command = Command.make(
  "example",
  {
    name: Argument.Literals("name", names).pipe(
      Argument.withDescription(
        `The example to run; without it, the tour runs them all on small inputs.\n${
          [
            ...examples.map((e) => `  ${e.name.padEnd(11)} ${e.summary}`),
            ...standalone.map((e) => `  ${e.name.padEnd(11)} ${e.summary} (not in the tour)`)
          ].join("\n")
        }`
      ),
      Argument.optional
    ),
    small: Flag.Boolean("small").pipe(
      Flag.withDescription("Small inputs (what the tour and the test suite use)"),
      Flag.withDefault(false)
    )
  },
  ({ name, small }) => {
    const example = Option.flatMap(
      name,
      (n) => Option.fromUndefinedOr([...examples, ...standalone].find((e) => e.name === n))
    )
    const program = Option.match(example, {
      onNone: () => tour,
      onSome: (e) => Effect.andThen(heading(e, 0, 1), e.program({ small }))
    })
    return Effect.provide(program, layer)
  }
).pipe(
  Command.withDescription("Runs one example of effect-orchestrator, or the tour of them all"),
  Command.withExamples([
    { command: "npm run example", description: "the tour" },
    { command: "npm run example -- fibonacci --small", description: "one example, on small inputs" }
  ])
)

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
