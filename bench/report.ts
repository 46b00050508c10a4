/**
 * Shared output of the benchmark suites: a table on stdout and `bench/results/<suite>.json` in the shape
 * `{ suite, node, cpus, results: [{ name, value, unit }], ratios }`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface Measurement {
  readonly name: string
  readonly value: number
  readonly unit: string
}

export interface Report {
  readonly suite: string
  readonly node: string
  readonly cpus: number
  readonly results: ReadonlyArray<Measurement>
  readonly ratios: Readonly<Record<string, number>>
}

const round = (n: number): number => Number.isInteger(n) ? n : Number(n.toPrecision(4))

export const writeReport = (
  suite: string,
  results: ReadonlyArray<Measurement>,
  ratios: Readonly<Record<string, number>>
): Report => {
  const report: Report = {
    suite,
    node: process.version,
    cpus: os.availableParallelism(),
    results: results.map((r) => ({ ...r, value: round(r.value) })),
    ratios: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round(v)]))
  }
  const width = Math.max(...results.map((r) => r.name.length), 10)
  console.log(`\n${suite} (node ${report.node}, ${report.cpus} cpus)`)
  for (const r of report.results) console.log(`  ${r.name.padEnd(width)}  ${String(r.value).padStart(12)} ${r.unit}`)
  console.log("  ratios:")
  for (const [k, v] of Object.entries(report.ratios)) console.log(`  ${k.padEnd(width)}  ${String(v).padStart(12)}`)
  const dir = path.join(import.meta.dirname, "results")
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${suite}.json`), JSON.stringify(report, null, 2) + "\n")
  return report
}

/** Median of a list of numbers. */
export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
