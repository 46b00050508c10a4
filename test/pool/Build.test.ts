// Worker files from a build or from the sources: the pool must find its built-in entries (the function worker,
// the thread and child-process bootstraps) next to its own modules, and run a user entry. The sources are
// compiled to a temporary folder with the project's compiler settings (no type check: `tsc --noEmit` does that).
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "../..")

const compileTree = (from: string, to: string): void => {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name)
    if (entry.isDirectory()) {
      compileTree(source, path.join(to, entry.name))
    } else if (entry.name.endsWith(".ts")) {
      const output = ts.transpileModule(fs.readFileSync(source, "utf8"), {
        fileName: source,
        compilerOptions: {
          target: ts.ScriptTarget.ES2023,
          // ESM output, as tsc emits for this "type": "module" package (transpileModule cannot see package.json)
          module: ts.ModuleKind.ESNext,
          rewriteRelativeImportExtensions: true,
          verbatimModuleSyntax: true
        }
      })
      fs.mkdirSync(to, { recursive: true })
      fs.writeFileSync(path.join(to, entry.name.replace(/\.ts$/, ".js")), output.outputText)
    }
  }
}

// Every built-in entry is found through a URL built from a string (`../worker/ThreadBootstrap.${ext}`), which a
// move breaks at run time, not at compile time: boot each of them, from the sources and from compiled output.
/** How the entry and the check import the library: module by module, or through the package's entries. */
interface Imports {
  readonly worker: string
  readonly pool: string
}

const moduleImports = (base: string, ext: string): Imports => ({
  worker: `import * as WorkerTask from "${base}/domain/WorkerTask.${ext}"
import { serve } from "${base}/runtime/worker/Server.${ext}"`,
  pool: `import * as WorkerPool from "${base}/layers/WorkerPool.${ext}"`
})

const entry = (imports: Imports) => `
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
${imports.worker}
export const Double = WorkerTask.make("double", { payload: Schema.Number, success: Schema.Number })
export default serve(WorkerTask.group(Double), { double: (n) => Effect.succeed(n * 2) })
`

const check = (imports: Imports, ext: string) => `
import { Effect } from "effect"
${imports.pool}
import { Double } from "./entry.${ext}"
const program = Effect.gen(function*() {
  const offloaded = yield* (yield* WorkerPool.make({ maxWorkers: 1 })).offload((a, b) => a + b, [40, 2])
  const offloadedInProcess = yield* (yield* WorkerPool.make({ maxWorkers: 1, mode: "process" })).offload((a, b) => a * b, [6, 7])
  const entry = new URL("./entry.${ext}", import.meta.url)
  const threaded = yield* (yield* WorkerPool.make({ entry, maxWorkers: 1 })).run(Double, 21)
  const forked = yield* (yield* WorkerPool.make({ entry, maxWorkers: 1, mode: "process" })).run(Double, 50)
  console.log(JSON.stringify({ offloaded, offloadedInProcess, threaded, forked }))
})
Effect.runPromise(Effect.scoped(program)).catch((e) => { console.error(e); process.exit(1) })
`

const expected = { offloaded: 42, offloadedInProcess: 42, threaded: 42, forked: 100 }

const runCheck = (dir: string, imports: Imports, ext: string): void => {
  fs.writeFileSync(path.join(dir, `entry.${ext}`), entry(imports))
  fs.writeFileSync(path.join(dir, `check.${ext}`), check(imports, ext))
  const result = spawnSync(process.execPath, [path.join(dir, `check.${ext}`)], { encoding: "utf8", timeout: 60_000 })
  assert.strictEqual(result.status, 0, result.stderr)
  assert.deepStrictEqual(JSON.parse(result.stdout.trim()), expected)
}

describe("built-in entries", () => {
  it("compiled .js modules boot the function worker and both bootstraps, in threads and child processes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pool-build-"))
    try {
      compileTree(path.join(root, "src"), dir)
      fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir")
      fs.writeFileSync(path.join(dir, "package.json"), "{\"type\":\"module\"}")
      runCheck(dir, moduleImports(".", "js"), "js")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the .ts sources boot the function worker and both bootstraps, in threads and child processes", () => {
    const dir = fs.mkdtempSync(path.join(root, "test", ".boot-"))
    try {
      fs.writeFileSync(path.join(dir, "package.json"), "{\"type\":\"module\"}")
      runCheck(dir, moduleImports(path.relative(dir, path.join(root, "src")).split(path.sep).join("/"), "ts"), "ts")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the bundle of npm run build boots the function worker and both bootstraps through the package's entries", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pool-bundle-"))
    try {
      const bundled = spawnSync(process.execPath, [path.join(root, "scripts/bundle.ts"), path.join(dir, "pkg")], {
        encoding: "utf8",
        timeout: 60_000
      })
      assert.strictEqual(bundled.status, 0, bundled.stderr)
      fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir")
      fs.writeFileSync(path.join(dir, "package.json"), "{\"type\":\"module\"}")
      runCheck(dir, {
        worker: `import { WorkerTask, serve } from "./pkg/worker.js"`,
        pool: `import { WorkerPool } from "./pkg/index.js"`
      }, "js")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
