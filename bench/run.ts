/**
 * `npm run bench -- <suite> [...]`: runs the named suites (all of them when none is named), each in its own
 * process so one suite's workers and heap do not skew the next.
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
const unknown = asked.filter((s) => !available.includes(s))
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; available: ${available.join(", ")}`)
  process.exit(2)
}
for (const suite of asked.length > 0 ? asked : available) {
  const result = spawnSync(process.execPath, ["--expose-gc", path.join(dir, `${suite}.bench.ts`)], { stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
