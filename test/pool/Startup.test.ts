// What makes workers start fast: the compile cache from a worker's first line, and the resolution of effect's own
// modules without the file system (which must agree with Node's everywhere it applies).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as WorkerPool from "../../src/layers/WorkerPool.ts"
import { effectDist, resolveWithin } from "../../src/runtime/worker/EffectResolution.ts"
import { Inc } from "./fixtures/tasks.ts"
import { workerEntry } from "./helpers.ts"

const filesUnder = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(path.join(dir, entry.name))
      : entry.name.endsWith(".js")
      ? [path.join(dir, entry.name)]
      : []
  )

const relativeImports = /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g

describe("effect's modules resolved without the file system", () => {
  it("gives, for every relative import in effect's dist, the file Node's resolver gives", () => {
    const dist = effectDist()
    assert.isDefined(dist)
    let checked = 0
    for (const file of filesUnder(fileURLToPath(dist!))) {
      const parent = pathToFileURL(file).href
      for (const [, specifier] of fs.readFileSync(file, "utf8").matchAll(relativeImports)) {
        // Node: the path, which must exist, then its real path (symlinks resolved).
        const expected = pathToFileURL(fs.realpathSync(path.resolve(path.dirname(file), specifier!))).href
        assert.strictEqual(resolveWithin(dist!, specifier!, parent), expected, `${specifier} from ${file}`)
        checked++
      }
    }
    assert.isAbove(checked, 500, "the dist folder's imports were found")
  })

  it("leaves everything else to Node", () => {
    const dist = "file:///app/node_modules/effect/dist/"
    const inside = `${dist}internal/effect.js`
    assert.strictEqual(resolveWithin(dist, "./core.js", inside), `${dist}internal/core.js`)
    assert.isUndefined(resolveWithin(dist, "effect/Schema", inside), "bare specifiers")
    assert.isUndefined(resolveWithin(dist, "./core.ts", inside), "not a .js file")
    assert.isUndefined(resolveWithin(dist, "./core", inside), "no extension")
    assert.isUndefined(resolveWithin(dist, "../../other/x.js", inside), "outside the dist folder")
    assert.isUndefined(resolveWithin(dist, "./x.js", "file:///app/src/main.js"), "imported from elsewhere")
    assert.isUndefined(resolveWithin(dist, "./x.js", undefined), "no parent")
  })
})

describe("compile cache from the first line", () => {
  const envOf = (options: WorkerPool.Options) =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ ...options, minWorkers: 1, maxWorkers: 1 })
      return yield* pool.offload(() => process.env.NODE_COMPILE_CACHE, [])
    }))

  it.live("workers get NODE_COMPILE_CACHE in their environment, unless the cache is off", () =>
    Effect.gen(function*() {
      const inherited = process.env.NODE_COMPILE_CACHE
      const on = yield* envOf({})
      if (inherited === undefined) assert.match(String(on), /node-compile-cache$/)
      else assert.strictEqual(on, inherited, "a cache this process names is kept")
      assert.strictEqual(yield* envOf({ compileCache: false }), inherited)
    }))

  it.live("a typed entry boots with both on (cache and resolution hook) and answers", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ entry: workerEntry, minWorkers: 1, maxWorkers: 1 })
      assert.strictEqual(yield* pool.run(Inc, 41), 42)
      assert.isString(yield* pool.offload(() => process.env.NODE_COMPILE_CACHE, []))
    }))
})
