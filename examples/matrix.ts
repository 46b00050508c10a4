// A matrix product split by rows across the workers, checked against the same product on the main thread.
import { Effect } from "effect"
import { Orchestrator } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { workers } from "./example.ts"
import { bestOf, bold, count, dim, line, ms } from "./terminal.ts"
import { multiplyRows } from "./workers/math.ts"
import { MultiplyRows } from "./workers/tasks.ts"

/** A square matrix of pseudo-random values in [-1, 1), row-major, the same for a given seed. */
const randomMatrix = (size: number, seed: number): Float64Array => {
  const out = new Float64Array(size * size)
  let state = seed >>> 0
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    out[i] = state / 2 ** 31 - 1
  }
  return out
}

export const example: Example = {
  name: "matrix",
  summary: "a matrix product split by rows across the workers, checked against the main thread",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const size = small ? 300 : 720
      const blocks = workers * 2
      const a = randomMatrix(size, 1)
      // B goes to every call: in a SharedArrayBuffer, every worker reads the same memory instead of a copy.
      const b = new Float64Array(new SharedArrayBuffer(size * size * Float64Array.BYTES_PER_ELEMENT))
      b.set(randomMatrix(size, 2))
      const rowsPerBlock = Math.ceil(size / blocks)
      yield* line(
        `${size}×${size} times ${size}×${size}, rows split into ${blocks} blocks of up to ${rowsPerBlock} rows`
      )

      const rounds = 6
      const [expected, mainMillis] = yield* bestOf(rounds, Effect.sync(() => multiplyRows(a, b, size, size)))
      yield* line(`  main thread   ${ms(mainMillis).padStart(9)}  ${dim(`best of ${rounds}`)}`)

      const [parts, poolMillis] = yield* bestOf(
        rounds,
        Effect.forEach(
          Array.from({ length: blocks }, (_, block) => block),
          (block) =>
            orchestrator.offload(MultiplyRows, {
              // Each call gets its own block of rows, whose buffer is moved to the worker, not copied.
              rows: a.slice(block * rowsPerBlock * size, Math.min(size, (block + 1) * rowsPerBlock) * size),
              b,
              inner: size,
              cols: size
            }, { name: "multiply rows" }),
          { concurrency: "unbounded" }
        )
      )
      const product = new Float64Array(size * size)
      let offset = 0
      for (const part of parts) {
        product.set(part, offset)
        offset += part.length
      }
      yield* line(`  worker pool   ${ms(poolMillis).padStart(9)}  ${dim(`best of ${rounds}`)}`)
      yield* line(`  speedup: ${(mainMillis / poolMillis).toFixed(2)}× with ${workers} workers`)

      let mismatches = 0
      let maxDiff = 0
      for (let i = 0; i < expected.length; i++) {
        const diff = Math.abs(expected[i]! - product[i]!)
        if (diff !== 0) mismatches++
        maxDiff = Math.max(maxDiff, diff)
      }
      if (mismatches > 0 || offset !== expected.length) {
        return yield* Effect.fail(new Error(`the products differ in ${mismatches} cells (max |diff| ${maxDiff})`))
      }
      yield* line(
        bold(`  check: equal, all ${count(size * size)} cells match the main-thread product`)
      )
    })
}
