// What importing a module loads, seen from a fresh process (its module lists are the truth, not timings), and a
// bundle built for a spec: shared by the specs that check what the barrel, the bundle and the worker load.
import { assert } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))

/** What an import loaded: Node's built-in modules and the URLs of every other module. */
export interface Loaded {
  readonly builtins: Array<string>
  readonly urls: Array<string>
}

/**
 * Imports `target` in a fresh process and returns what that import loaded. With `after`, that module is
 * imported first and what it loaded is left out (`"effect"`, to see what a module adds to a program that has
 * effect already).
 */
export const loadedBy = (target: string, options: { readonly after?: string } = {}): Loaded => {
  const probe = `
    import * as module from "node:module"
    const urls = []
    module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
    ${options.after === undefined ? "" : `await import(${JSON.stringify(options.after)})`}
    const seen = urls.length
    const builtins = new Set(process.moduleLoadList)
    await import(${JSON.stringify(target)})
    console.log(JSON.stringify({
      builtins: process.moduleLoadList.filter((m) => !builtins.has(m) && m.startsWith("NativeModule ")).map((m) => m.slice(13)),
      urls: urls.slice(seen)
    }))
  `
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000
  })
  assert.strictEqual(run.status, 0, run.stderr)
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!)
}

/**
 * Builds the bundle as `npm run build` does into a new directory under the repository (so that `effect`
 * resolves from it as from an installed package); `remove` deletes it.
 */
export const buildBundle = (): { readonly dir: string; readonly stderr: string; readonly remove: () => void } => {
  const dir = fs.mkdtempSync(path.join(root, "test", ".tmp-bundle-"))
  const bundled = spawnSync(process.execPath, [path.join(root, "scripts/bundle.ts"), dir], {
    encoding: "utf8",
    timeout: 60_000
  })
  const remove = () => fs.rmSync(dir, { recursive: true, force: true })
  if (bundled.status !== 0) remove()
  assert.strictEqual(bundled.status, 0, bundled.stderr)
  return { dir, stderr: bundled.stderr, remove }
}
