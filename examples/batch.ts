// A large input mapped on the workers with `batchOffload`: items travel in chunks, one message per chunk, and a
// live progress line shows done/total and items per second. The items are the points of an image of the
// Mandelbrot set; each one's escape time is computed on a worker.
import { Effect } from "effect"
import { Orchestrator } from "effect-orchestrator"
import type { Batch } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { bold, count, dim, line, ms, timed, write } from "./terminal.ts"

const width = 1_200
const height = 800
const limit = 2_000

/**
 * The escape time of one pixel of a 1,200 × 800 view of the Mandelbrot set: iterations before the orbit leaves
 * the disc of radius 2, up to 2,000 (2,000: inside the set). Self-contained: it travels to the workers as its source.
 */
function escapeTime(pixel: number): number {
  const re = -2.2 + ((pixel % 1_200) + 0.5) * (3.2 / 1_200)
  const im = -1.2 + (Math.floor(pixel / 1_200) + 0.5) * (2.4 / 800)
  let x = 0
  let y = 0
  let n = 0
  while (n < 2_000 && x * x + y * y <= 4) {
    const next = x * x - y * y + re
    y = 2 * x * y + im
    x = next
    n++
  }
  return n
}

/** A small text rendering of the computed rows: a visible check that the pieces came back in order. */
const preview = (rows: ReadonlyArray<number>, times: ReadonlyArray<number>, cols: number, lines: number) => {
  const shades = " .:-=+*#%@"
  const out: Array<string> = []
  for (let l = 0; l < lines; l++) {
    const r = Math.floor(((l + 0.5) * rows.length) / lines)
    let text = ""
    for (let c = 0; c < cols; c++) {
      const t = times[r * width + Math.floor(((c + 0.5) * width) / cols)]!
      text += t >= limit ? "@" : shades[Math.min(shades.length - 2, Math.floor(Math.log2(t + 1)))]
    }
    out.push(`    ${text}`)
  }
  return out
}

export const example: Example = {
  name: "batch",
  summary: "a large input through batchOffload, with a live progress line and the final items/s",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      // Every second row of the image; small: every eighth.
      const rowStep = small ? 8 : 2
      const rows = Array.from({ length: Math.ceil(height / rowStep) }, (_, i) => i * rowStep)
      const items = rows.flatMap((row) => Array.from({ length: width }, (_, col) => row * width + col))
      const total = items.length
      const batchSize = 10_000
      yield* line(
        `escape times of ${count(total)} points (${width} × ${rows.length}) of the Mandelbrot set, in chunks of ${
          count(batchSize)
        }`
      )

      // On a terminal one line is rewritten in place (\r) at most every 100 ms; in a pipe or a file a line is
      // kept at each quarter, so logs stay short.
      const tty = process.stdout.isTTY === true
      let shown = 0
      let quarter = 0
      const progress = (p: Batch.BatchProgress) => {
        const now = performance.now()
        const last = p.done === p.total
        const due = tty ? now - shown >= 100 : p.done * 4 >= (quarter + 1) * total
        if (!due && !last) return Effect.void
        shown = now
        quarter = Math.floor((p.done * 4) / total)
        const text = `  ${count(p.done).padStart(count(total).length)}/${count(p.total ?? 0)}` +
          `  ${String(Math.round((p.done * 100) / total)).padStart(3)}%  ${count(p.itemsPerSecond)} items/s`
        return tty ? write(`\r${text.padEnd(60)}${last ? "\n" : ""}`) : line(text)
      }
      const [times, millis] = yield* timed(
        orchestrator.batchOffload(escapeTime, items, { batchSize, onProgress: progress })
      )

      // The reference: the same function over the same items on the main thread.
      const [expected, mainMillis] = yield* timed(Effect.sync(() => items.map(escapeTime)))
      const mismatch = expected.findIndex((t, i) => times[i] !== t)
      if (times.length !== total || mismatch >= 0) {
        return yield* Effect.fail(new Error(`${times.length} results; first mismatch at item ${mismatch}`))
      }
      for (const text of preview(rows, times, 60, small ? 10 : 16)) yield* line(dim(text))
      yield* line(`  all ${count(total)} results match the main thread's, which took ${ms(mainMillis)} alone`)
      yield* line(bold(`  processed ${count(total)} items in ${ms(millis)}: ${count((total * 1000) / millis)} items/s`))
    })
}
