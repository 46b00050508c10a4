// The worker's log capture makes its logger without `effect/Logger`, whose import loads the file logger's
// `FileSystem`, `Stream`, `Channel` and some 20 modules more into every typed worker at boot.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { defaultLogger, makeLogger } from "../../src/runtime/worker/CallTelemetry.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const telemetry = new URL("../../src/runtime/worker/CallTelemetry.ts", import.meta.url).href

describe("CallTelemetry", () => {
  it("its fallback is Effect's default logger", () => {
    assert.strictEqual(defaultLogger, Logger.defaultLogger)
  })

  it.effect("makeLogger makes a logger that Effect logs through", () =>
    Effect.gen(function*() {
      const lines: Array<unknown> = []
      const logger = makeLogger(({ message }) => void lines.push(message))
      assert.isTrue(Logger.isLogger(logger))
      yield* Effect.logInfo("hello").pipe(Effect.provide(Logger.layer([logger])))
      assert.deepStrictEqual(lines, [["hello"]])
    }))

  it("loading it loads neither effect/Logger nor the file logger's modules", () => {
    const probe = `
      import * as module from "node:module"
      const urls = []
      module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
      await import(${JSON.stringify(telemetry)})
      console.log(JSON.stringify(urls))
    `
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(run.status, 0, run.stderr)
    const urls = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Array<string>
    assert.isDefined(urls.find((url) => url.endsWith("/effect/dist/Fiber.js")), "the probe sees effect's modules")
    for (const heavy of ["Logger.js", "FileSystem.js", "Stream.js", "Channel.js"]) {
      assert.isUndefined(urls.find((url) => url.endsWith(`/effect/dist/${heavy}`)), `it loaded effect's ${heavy}`)
    }
  }, 60_000)
})
