// WorkerPool.entry: one way to name a worker entry that works from source (.ts) and from compiled output (.js).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { assert, describe, it } from "vitest"
import { WorkerPool } from "../../src/index.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const fixture = path.join(root, "test", "pool", "fixtures", "entry")

const runNode = (file: string) =>
  spawnSync(process.execPath, ["--conditions=effect-orchestrator-source", file], {
    cwd: root,
    encoding: "utf8",
    timeout: 50_000
  })

describe("WorkerPool.entry", () => {
  it("keeps a .ts name beside a .ts module and rewrites it to .js beside a compiled one", () => {
    assert.strictEqual(WorkerPool.entry("file:///app/src/main.ts", "./worker.ts").href, "file:///app/src/worker.ts")
    assert.strictEqual(WorkerPool.entry("file:///app/dist/main.js", "./worker.ts").href, "file:///app/dist/worker.js")
    assert.strictEqual(WorkerPool.entry("file:///app/dist/main.mjs", "./w/x.mts").href, "file:///app/dist/w/x.mjs")
    assert.strictEqual(WorkerPool.entry("file:///app/dist/main.cjs", "../w.cts").href, "file:///app/w.cjs")
    assert.strictEqual(WorkerPool.entry(new URL("file:///app/dist/main.js"), "./w.js").href, "file:///app/dist/w.js")
    // Only the extension at the end is rewritten, and only from compiled modules.
    assert.strictEqual(WorkerPool.entry("file:///app/dist/main.js", "./ts.ts/w").href, "file:///app/dist/ts.ts/w")
    assert.strictEqual(WorkerPool.entry("file:///app/src/main.ts", "./w.js").href, "file:///app/src/w.js")
  })

  it("boots the worker of a program run from source", { timeout: 60_000 }, () => {
    const run = runNode(path.join(fixture, "main.ts"))
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.stdout, "answer 42 from worker.ts")
  })

  it("boots the worker of the same program compiled to .js, with no .ts beside it", { timeout: 60_000 }, () => {
    // Inside the package, so that the compiled copy resolves `effect-orchestrator` by its name, as a user's does.
    const out = fs.mkdtempSync(path.join(root, "test", ".tmp-entry-"))
    try {
      for (const name of ["main", "tasks", "worker"]) {
        const source = fs.readFileSync(path.join(fixture, `${name}.ts`), "utf8")
        const { outputText } = ts.transpileModule(source, {
          fileName: `${name}.ts`,
          compilerOptions: {
            module: ts.ModuleKind.ES2022,
            target: ts.ScriptTarget.ES2023,
            rewriteRelativeImportExtensions: true,
            verbatimModuleSyntax: true
          }
        })
        assert.notInclude(outputText, "./tasks.ts")
        fs.writeFileSync(path.join(out, `${name}.js`), outputText)
      }
      const run = runNode(path.join(out, "main.js"))
      assert.strictEqual(run.status, 0, run.stderr)
      assert.include(run.stdout, "answer 42 from worker.js")
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  })
})
