// Output helpers of the examples: plain text that reads well in a terminal and in a log file.
import { Console, Effect } from "effect"
import { styleText } from "node:util"

/** Milliseconds: whole ones as they are (task timings are whole), others with one decimal under 100 ms. */
export const ms = (millis: number): string =>
  Number.isInteger(millis) || millis >= 100 ? `${Math.round(millis)} ms` : `${millis.toFixed(1)} ms`

/** A count with thousands separators. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US")

/** Bold when printing to a terminal that allows colours (`NO_COLOR`, pipes and files get plain text). */
export const bold = (text: string): string => styleText("bold", text)

/** Dimmed, under the same rules as {@link bold}. */
export const dim = (text: string): string => styleText("dim", text)

/** Prints one line. */
export const line = (text = ""): Effect.Effect<void> => Console.log(text)

/** Prints rows under a header, each column padded to its widest cell; numeric-looking cells align right. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)))
  const numeric = header.map((_, i) =>
    rows.length > 0 && rows.every((row) => /^[+\d.,\s×%-]+(ms|s)?$/.test(row[i] ?? ""))
  )
  const format = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)).join("  ").trimEnd()
  return Effect.forEach([dim(format(header)), ...rows.map(format)], (text) => line(`  ${text}`), { discard: true })
}

/** Runs `effect` and gives its value with the wall-clock milliseconds it took. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, number], E, R> =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, (a) => [a, performance.now() - start] as const)
  })

/**
 * Runs `effect` `rounds` times and gives the fastest run: the first calls in a fresh thread run before V8 has
 * optimised the code, and a comparison should be about computing, not about warming up.
 */
export const bestOf = <A, E, R>(
  rounds: number,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, number], E, R> =>
  Effect.map(
    Effect.forEach(Array.from({ length: rounds }), () => timed(effect)),
    (runs) => runs.reduce((best, run) => run[1] < best[1] ? run : best)
  )

/** Writes without a newline (for `\r` progress lines). */
export const write = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(text))
