/**
 * `npm run mutation -- MODULE [...]`: mutation testing of one module (StrykerJS with its vitest runner,
 * per-test coverage) against that module's own specs only, so that the score says how well those specs pin it.
 *
 * MODULE is a source file's base name (`PriorityQueue`, `Retry`, `BackgroundQueue`, `Dispatch`) or one of the
 * groups below (`Config`: the config schemas with their validation). Its specs are the files under `test/`
 * named after it, or listed below where the names differ. The HTML report goes to `reports/mutation/`.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")

/** Modules whose sources or specs are not found by name. */
const groups: Record<string, { readonly mutate: ReadonlyArray<string>; readonly specs: ReadonlyArray<string> }> = {
  Config: {
    mutate: ["src/domain/Config.ts", "src/runtime/config/ConfigValidation.ts"],
    specs: ["test/domain/Config.test.ts"]
  },
  // The scheduler's admission, capacity, rate gate and shutdown; its queue is PriorityQueue (a module of its own).
  SchedulerCore: {
    mutate: ["src/runtime/scheduler/SchedulerCore.ts"],
    specs: [
      "test/scheduler/Scheduler.test.ts",
      "test/scheduler/Scheduler.property.test.ts",
      // the fiberless admissions (`Admission`, `laneOf`) are driven by runAll's runner
      "test/orchestrator/BatchExecution.test.ts",
      "test/orchestrator/BatchExecution.property.test.ts"
    ]
  },
  Dispatch: {
    mutate: ["src/runtime/pool/Dispatch.ts"],
    specs: ["test/pool/WorkerDispatch.test.ts", "test/pool/WorkerDispatchLifecycle.test.ts"]
  }
}

const walk = (dir: string): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)]
  )

const resolve = (name: string) => {
  const group = groups[name]
  if (group !== undefined) return group
  const mutate = walk("src").filter((file) => path.basename(file) === `${name}.ts`)
  const specs = walk("test").filter((file) => path.basename(file).startsWith(`${name}.`) && file.endsWith(".test.ts"))
  if (mutate.length !== 1 || specs.length === 0) {
    console.error(`mutation: no single source file ${name}.ts with specs test/**/${name}.*test.ts`)
    process.exit(2)
  }
  return { mutate, specs }
}

const names = process.argv.slice(2)
if (names.length === 0) {
  console.error(
    "usage: npm run mutation -- MODULE [...]   (e.g. PriorityQueue, SchedulerCore, Retry, BackgroundQueue, Config, Dispatch)"
  )
  process.exit(2)
}
// Inside the project (Stryker copies it into its sandbox), unlike .stryker-tmp.
const tmp = path.join(root, "mutation", "generated")
fs.mkdirSync(tmp, { recursive: true })
for (const name of names) {
  const { mutate, specs } = resolve(name)
  const vitestConfig = path.join(tmp, `vitest.${name}.config.mjs`)
  fs.writeFileSync(
    vitestConfig,
    `export default { test: { include: ${JSON.stringify(specs)}, testTimeout: 60000, hookTimeout: 60000 } }\n`
  )
  const strykerConfig = path.join(tmp, `stryker.${name}.json`)
  fs.writeFileSync(
    strykerConfig,
    JSON.stringify(
      {
        testRunner: "vitest",
        plugins: ["@stryker-mutator/vitest-runner"],
        vitest: { configFile: path.relative(root, vitestConfig), related: false },
        coverageAnalysis: "perTest",
        mutate,
        reporters: ["clear-text", "progress", "html"],
        htmlReporter: { fileName: `reports/mutation/${name}.html` },
        concurrency: 2,
        thresholds: { high: 90, low: 85, break: null }
      },
      null,
      2
    )
  )
  console.log(`mutation ${name}: mutating ${mutate.join(", ")} against ${specs.join(", ")}`)
  const result = spawnSync("npx", ["stryker", "run", strykerConfig], { cwd: root, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
