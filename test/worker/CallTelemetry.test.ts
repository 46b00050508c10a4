// The worker's log capture makes its logger without `effect/Logger`, whose import loads the file logger's
// `FileSystem`, `Stream`, `Channel` and some 20 modules more into every typed worker at boot.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { defaultLogger, makeLogger } from "../../src/runtime/worker/CallTelemetry.ts"
import { loadedBy } from "../support/ModuleProbe.ts"

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
    const { urls } = loadedBy(telemetry)
    assert.isDefined(urls.find((url) => url.endsWith("/effect/dist/Fiber.js")), "the probe sees effect's modules")
    for (const heavy of ["Logger.js", "FileSystem.js", "Stream.js", "Channel.js"]) {
      assert.isUndefined(urls.find((url) => url.endsWith(`/effect/dist/${heavy}`)), `it loaded effect's ${heavy}`)
    }
  }, 60_000)
})
