// Ctrl-C with background work, in a real process run by NodeRuntime.runMain: the first interrupt says what
// is drained and until when; the second stops at once, every handle cancelled with a typed error.
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const program = fileURLToPath(new URL("./fixtures/ctrl-c.ts", import.meta.url))

describe("Ctrl-C with background work", () => {
  it("the first interrupt drains and says until when; the second stops at once", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [program], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const waitFor = async (pattern: RegExp): Promise<void> => {
      const until = Date.now() + 40_000
      while (!pattern.test(output)) {
        if (Date.now() > until) throw new Error(`no ${pattern} in:\n${output}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    await waitFor(/ready/)
    child.kill("SIGINT")
    await waitFor(/draining 3 running and 0 queued task\(s\) until \S+ \(30000 ms\); interrupt again/)
    const second = Date.now()
    child.kill("SIGINT")
    const code = await exited
    const took = Date.now() - second
    assert.strictEqual(code, 130, output)
    assert.match(output, /stopped by a second interrupt; cancelling 3 running and 0 queued task\(s\)/)
    // Far from the 30 s deadline (generous: the machine is shared).
    assert.isBelow(took, 15_000, output)
  })
})
