// Worker files from a build: the pool must find its built-in entries (`FunctionWorker.js`, the child-process
// bootstrap) next to the compiled modules, and run a compiled `.js` user entry. The sources are compiled to
// a temporary folder with the project's compiler settings (no type check: `tsc --noEmit` does that).
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

const entry = `
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as WorkerTask from "./domain/WorkerTask.js"
import { serve } from "./runtime/WorkerRuntime.js"
export const Double = WorkerTask.make("double", { payload: Schema.Number, success: Schema.Number })
export default serve(WorkerTask.group(Double), { double: (n) => Effect.succeed(n * 2) })
`

const check = `
import { Effect } from "effect"
import * as WorkerPool from "./layers/WorkerPool.js"
import { Double } from "./entry.js"
const program = Effect.gen(function*() {
  const offloaded = yield* (yield* WorkerPool.make({ maxWorkers: 1 })).offload((a, b) => a + b, 40, 2)
  const entry = new URL("./entry.js", import.meta.url)
  const threaded = yield* (yield* WorkerPool.make({ entry, maxWorkers: 1 })).run(Double, 21)
  const forked = yield* (yield* WorkerPool.make({ entry, maxWorkers: 1, mode: "process" })).run(Double, 50)
  console.log(JSON.stringify({ offloaded, threaded, forked }))
})
Effect.runPromise(Effect.scoped(program)).catch((e) => { console.error(e); process.exit(1) })
`

describe("built output", () => {
  it("compiled .js modules run pools with the built-in entry, a .js entry, and child processes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pool-build-"))
    try {
      compileTree(path.join(root, "src"), dir)
      fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir")
      fs.writeFileSync(path.join(dir, "package.json"), "{\"type\":\"module\"}")
      fs.writeFileSync(path.join(dir, "entry.js"), entry)
      fs.writeFileSync(path.join(dir, "check.js"), check)
      const result = spawnSync(process.execPath, [path.join(dir, "check.js")], { encoding: "utf8", timeout: 60_000 })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.deepStrictEqual(JSON.parse(result.stdout.trim()), { offloaded: 42, threaded: 42, forked: 100 })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
