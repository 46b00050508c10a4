// The barrel loads nothing heavy at import: what a feature needs loads when the feature is used. Checked in a
// fresh process (its module lists are the truth), not by timing.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { buildBundle, loadedBy as loadedFrom } from "./support/ModuleProbe.ts"
import type { Loaded } from "./support/ModuleProbe.ts"

const barrel = new URL("../src/index.ts", import.meta.url).href
/** `effect` as a URL, for a probe module given as a `data:` URL (which cannot resolve bare specifiers). */
const effectBarrel = new URL("../node_modules/effect/dist/index.js", import.meta.url).href

/** What importing `target` adds to a program that has imported `effect`. */
const loadedBy = (target: string): Loaded => loadedFrom(target, { after: "effect" })

const assertNothingHeavy = (loaded: Loaded): void => {
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

  describe("built by npm run build", () => {
    let bundle: ReturnType<typeof buildBundle> | undefined
    beforeAll(() => {
      bundle = buildBundle()
    }, 60_000)
    afterAll(() => bundle?.remove())
    const indexOf = () => pathToFileURL(path.join(bundle!.dir, "index.js")).href

    // Each module costs its own resolution, read and compile (with every bare import resolved again through
    // package.json): about half of the barrel's import time when it was 53 files.
    it("the barrel is a handful of files and loads nothing heavy either", () => {
      const loaded = loadedBy(indexOf())
      assertNothingHeavy(loaded)
      const own = new Set(loaded.urls.filter((url) => url.startsWith(pathToFileURL(bundle!.dir).href)))
      assert.isAtLeast(own.size, 1, "the probe sees the bundle's files")
      assert.isAtMost(own.size, 10, [...own].join("\n"))
    }, 60_000)

    // The build turns the sources' imports of `effect`'s barrel into imports of the modules they name: a worker
    // whose task definitions import this package's barrel then loads the `effect` modules the package uses, not
    // all 250-odd of them (SQL, persistence, transactional ones).
    it("the barrel imports effect's modules one by one, never effect's own barrel", () => {
      assert.notInclude(bundle!.stderr, "SOURCEMAP_BROKEN")
      const { urls } = loadedFrom(indexOf())
      assert.isDefined(urls.find((url) => url.endsWith("/effect/dist/Schema.js")), "the probe sees effect's modules")
      assert.isUndefined(urls.find((url) => url.endsWith("/effect/dist/index.js")), "it loaded effect's barrel")
      assert.isUndefined(urls.find((url) => url.includes("/effect/dist/sql/")), "it loaded effect/sql")
      // Each import still names what the sources imported: the bundle's barrel runs (above) and exports it all.
      const source = fs.readFileSync(path.join(bundle!.dir, "index.js"), "utf8")
      assert.notMatch(source, /^import [^\n]* from "effect";?$/m)
    }, 60_000)
  })

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
