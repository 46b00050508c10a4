/**
 * `npm run bench -- <suite> [...]`: runs the named suites (all of them when none is named), each in its own
 * process so one suite's workers and heap do not skew the next. `npm run bench -- report` renders the last results
 * into docs/benchmarks.md with a chart per suite.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const dir = import.meta.dirname
const available = fs.readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .sort()
const asked = process.argv.slice(2)
// `report` is not a suite: it renders the suites' last results into docs/benchmarks.md (see render.ts).
if (available.includes("report")) throw new Error("a suite may not be named report: `npm run bench -- report` renders")
if (asked.includes("report")) {
  if (asked.length > 1) {
    console.error("`npm run bench -- report` takes no suites: it renders every bench/results/*.json")
    process.exit(2)
  }
  const { renderAll } = await import("./render.ts")
  const written = renderAll(path.join(dir, "results"), path.join(dir, "..", "docs"))
  for (const file of written) console.log(`wrote ${file}`)
  process.exit(0)
}
const unknown = asked.filter((s) => !available.includes(s))
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; available: ${available.join(", ")}`)
  process.exit(2)
}
for (const suite of asked.length > 0 ? asked : available) {
  const result = spawnSync(process.execPath, ["--expose-gc", path.join(dir, `${suite}.bench.ts`)], { stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
