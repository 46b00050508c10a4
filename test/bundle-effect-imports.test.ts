// The build turns the sources' imports of `effect`'s barrel into imports of the modules they name: a worker whose
// task definitions import this package's barrel then loads the `effect` modules the package uses, not all 250-odd
// of them (SQL, persistence, transactional ones). Checked in a fresh process, from a bundle built for the spec.
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The URLs that importing `target` alone loads, in a fresh process. */
const loadedBy = (target: string): Array<string> => {
  const probe = `
    import * as module from "node:module"
    const urls = []
    module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
    await import(${JSON.stringify(target)})
    console.log(JSON.stringify(urls))
  `
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000
  })
  assert.strictEqual(run.status, 0, run.stderr)
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!)
}

describe("the bundle's imports of effect", () => {
  it("the built barrel imports effect's modules one by one, never effect's own barrel", () => {
    // Under the repository, so that `effect` resolves from the bundle as from an installed package.
    const dir = fs.mkdtempSync(path.join(root, "test", ".tmp-bundle-"))
    try {
      const bundled = spawnSync(process.execPath, [path.join(root, "scripts/bundle.ts"), dir], {
        encoding: "utf8",
        timeout: 60_000
      })
      assert.strictEqual(bundled.status, 0, bundled.stderr)
      assert.notInclude(bundled.stderr, "SOURCEMAP_BROKEN")
      const urls = loadedBy(pathToFileURL(path.join(dir, "index.js")).href)
      assert.isDefined(urls.find((url) => url.endsWith("/effect/dist/Schema.js")), "the probe sees effect's modules")
      assert.isUndefined(urls.find((url) => url.endsWith("/effect/dist/index.js")), "it loaded effect's barrel")
      assert.isUndefined(urls.find((url) => url.includes("/effect/dist/sql/")), "it loaded effect/sql")
      // Each import still names what the sources imported: the bundle's barrel runs (above) and exports it all.
      const source = fs.readFileSync(path.join(dir, "index.js"), "utf8")
      assert.notMatch(source, /^import [^\n]* from "effect";?$/m)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
