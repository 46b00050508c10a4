/**
 * `npm run bench -- imports`: what the library's barrel (`dist/index.js`, built by `npm run build`, which this
 * suite runs when `dist` is missing) adds to a program's imports beyond `effect` itself. Each sample is a
 * fresh Node process that imports `effect`, then the barrel, timing each; the suite reports the medians of
 * `RUNS` samples, without Node's compile cache (a program's first run, and any program that does not turn the
 * cache on) and with it (warmed by a first run). It also counts the modules the barrel loads beyond `effect`'s:
 * `effect` modules, Node built-ins, and its own.
 *
 * Goal: the barrel adds at most 30 ms (`barrelMillis`). `IMPORTS_BENCH_DIST` points at another build's
 * `dist` folder (with a `node_modules` above it), to compare builds.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { median, writeReport } from "./report.ts"

const RUNS = 9
const root = fileURLToPath(new URL("..", import.meta.url))
const barrel = path.join(process.env.IMPORTS_BENCH_DIST ?? path.join(root, "dist"), "index.js")

if (!fs.existsSync(barrel) && process.env.IMPORTS_BENCH_DIST === undefined) {
  console.log("  building dist (npm run build)")
  const build = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

// Runs in each sample process, from the package root so that `effect` resolves as a user's program would.
const probe = `
import * as module from "node:module"
const urls = new Set()
if (process.env.COUNT_MODULES === "1") {
  module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.add(r.url); return r } })
}
const t0 = performance.now()
await import("effect")
const t1 = performance.now()
const seen = new Set(urls)
const builtins = new Set(process.moduleLoadList)
await import(${JSON.stringify(new URL(`file://${barrel}`).href)})
const t2 = performance.now()
const extra = [...urls].filter((u) => !seen.has(u))
console.log(JSON.stringify({
  effect: t1 - t0,
  barrel: t2 - t1,
  effectModules: extra.filter((u) => u.includes("/node_modules/")).length,
  ownModules: extra.filter((u) => u.startsWith("file:") && !u.includes("/node_modules/")).length,
  builtins: process.moduleLoadList.filter((m) => !builtins.has(m) && m.startsWith("NativeModule ")).map((m) => m.slice(13))
}))
`

interface Sample {
  readonly effect: number
  readonly barrel: number
  readonly effectModules: number
  readonly ownModules: number
  readonly builtins: ReadonlyArray<string>
}

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "imports-bench-"))

const sample = (cached: boolean, countModules = false): Sample => {
  const env: Record<string, string | undefined> = { ...process.env, COUNT_MODULES: countModules ? "1" : "0" }
  if (cached) {
    env.NODE_COMPILE_CACHE = cacheDir
    delete env.NODE_DISABLE_COMPILE_CACHE
  } else {
    env.NODE_DISABLE_COMPILE_CACHE = "1"
    delete env.NODE_COMPILE_CACHE
  }
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: root,
    env,
    encoding: "utf8",
    timeout: 30_000
  })
  if (run.status !== 0) throw new Error(`sample failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Sample
}

try {
  sample(true) // warms the compile cache
  const cold: Array<Sample> = []
  const warm: Array<Sample> = []
  for (let i = 0; i < RUNS; i++) {
    cold.push(sample(false))
    warm.push(sample(true))
  }
  const counted = sample(false, true)
  console.log(`  built-ins the barrel loads beyond effect's: ${counted.builtins.join(", ") || "none"}`)
  const results = [
    { name: "effect alone, no compile cache", value: median(cold.map((s) => s.effect)), unit: "ms" },
    { name: "barrel beyond effect, no compile cache", value: median(cold.map((s) => s.barrel)), unit: "ms" },
    { name: "effect alone, compile cache", value: median(warm.map((s) => s.effect)), unit: "ms" },
    { name: "barrel beyond effect, compile cache", value: median(warm.map((s) => s.barrel)), unit: "ms" },
    { name: "effect modules the barrel adds", value: counted.effectModules, unit: "modules" },
    { name: "own modules of the barrel", value: counted.ownModules, unit: "modules" },
    { name: "Node built-ins the barrel adds", value: counted.builtins.length, unit: "modules" }
  ]
  writeReport("imports", results, {
    barrelMillis: median(cold.map((s) => s.barrel)),
    barrelMillisCached: median(warm.map((s) => s.barrel)),
    barrelVsEffect: median(cold.map((s) => s.barrel / s.effect))
  })
} finally {
  fs.rmSync(cacheDir, { recursive: true, force: true })
}
