// The barrel loads nothing heavy at import: what a feature needs loads when the feature is used. Checked in a
// fresh process (its module lists are the truth), not by timing.
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const barrel = new URL("../src/index.ts", import.meta.url).href
/** `effect` as a URL, for a probe module given as a `data:` URL (which cannot resolve bare specifiers). */
const effectBarrel = new URL("../node_modules/effect/dist/index.js", import.meta.url).href

/** Imports `effect`, then `target`, in a fresh process; returns what the second import loaded. */
const loadedBy = (target: string): { readonly builtins: Array<string>; readonly urls: Array<string> } => {
  const probe = `
    import * as module from "node:module"
    const urls = []
    module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
    await import("effect")
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

const assertNothingHeavy = (loaded: { readonly builtins: Array<string>; readonly urls: Array<string> }): void => {
  for (const heavy of ["child_process", "worker_threads", "v8", "net", "internal/fs/promises", "stream"]) {
    assert.notInclude(loaded.builtins, heavy, `importing the barrel loaded node:${heavy}`)
  }
  for (
    const heavy of [
      "/effect/dist/http/",
      "/effect/dist/observability/",
      // breakers and the scheduler's rate limit load it when a program builds them
      "/effect/dist/persistence/",
      "/@effect/platform-node",
      "/piscina/",
      "/bullmq/",
      "/ioredis/"
    ]
  ) {
    assert.isUndefined(loaded.urls.find((url) => url.includes(heavy)), `importing the barrel loaded ${heavy}`)
  }
}

describe("imports", () => {
  it("the barrel loads no child_process, worker_threads, v8 or fs, no HTTP, observability or platform module", () => {
    const { builtins, urls } = loadedBy(barrel)
    assertNothingHeavy({ builtins, urls })
    assert.isDefined(
      urls.find((url) => url.endsWith("/src/layers/WorkerPool.ts")),
      "the probe sees the barrel's modules"
    )
  }, 60_000)

  // Each module costs its own resolution, read and compile (with every bare import resolved again through
  // package.json): about half of the barrel's import time when it was 53 files.
  it("built by npm run build, the barrel is a handful of files and loads nothing heavy either", () => {
    // Under the repository, so that `effect` resolves from the bundle as from an installed package.
    const dir = fs.mkdtempSync(path.join(root, "test", ".tmp-imports-"))
    try {
      const bundled = spawnSync(process.execPath, [path.join(root, "scripts/bundle.ts"), dir], {
        encoding: "utf8",
        timeout: 60_000
      })
      assert.strictEqual(bundled.status, 0, bundled.stderr)
      const loaded = loadedBy(pathToFileURL(path.join(dir, "index.js")).href)
      assertNothingHeavy(loaded)
      const own = new Set(loaded.urls.filter((url) => url.startsWith(pathToFileURL(dir).href)))
      assert.isAtLeast(own.size, 1, "the probe sees the bundle's files")
      assert.isAtMost(own.size, 10, [...own].join("\n"))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("a program that builds a breaker layer and a rate-limited scheduler loads effect/persistence then", () => {
    const program = `import { CircuitBreakers, Scheduler } from ${JSON.stringify(barrel)}
      import { Effect, Layer } from ${JSON.stringify(effectBarrel)}
      await Effect.runPromise(Effect.scoped(Layer.build(Layer.mergeAll(
        CircuitBreakers.layer(),
        Scheduler.layer({ rate: { limit: 10, interval: 1000 } })
      ))))`
    const { urls } = loadedBy(`data:text/javascript,${encodeURIComponent(program)}`)
    assert.isDefined(urls.find((url) => url.includes("/effect/dist/persistence/CircuitBreaker.js")))
    assert.isDefined(urls.find((url) => url.includes("/effect/dist/persistence/RateLimiter.js")))
  }, 60_000)

  it("the probe tells: a module that imports Prometheus' exporter shows up", () => {
    const { urls } = loadedBy("effect/observability/PrometheusMetrics")
    assert.isDefined(urls.find((url) => url.includes("/effect/dist/http/")))
  }, 60_000)
})
