// Runs every example as `npm run example -- NAME --small` would (a child process of this Node), and the tour,
// and checks the exit code and the lines that show each example did its job. No timing is asserted: numbers
// that depend on the machine (speedups, items/s) are only checked to be numbers.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// Each example boots its own worker threads: two at a time is what a 2-core machine runs well.
let running = 0
const waiting: Array<() => void> = []
const limited = async <A>(f: () => Promise<A>): Promise<A> => {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await f()
  } finally {
    running--
    waiting.shift()?.()
  }
}

const runExample = (...args: ReadonlyArray<string>): Promise<Run> =>
  limited(() =>
    new Promise<Run>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
      delete env.FORCE_COLOR
      // As `npm run example` does: the examples import the package by its name, and this condition makes Node
      // resolve that name to the sources (package.json `exports`) instead of a `dist` that a clean clone lacks.
      const child = spawn(process.execPath, ["--conditions=effect-orchestrator-source", "examples/run.ts", ...args], {
        cwd: root,
        env
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      const timer = setTimeout(() => child.kill("SIGKILL"), 50_000)
      child.on("error", reject)
      child.on("close", (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    })
  )

const succeeded = (run: Run): string => {
  assert.strictEqual(run.code, 0, `exit code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
  return run.stdout
}

/** The first capture group of `pattern` in `text`, failing with the whole output when the line is missing. */
const capture = (text: string, pattern: RegExp): string => {
  const match = pattern.exec(text)
  assert.isNotNull(match, `no line matching ${pattern} in:\n${text}`)
  return match![1] ?? match![0]
}

const number = (text: string): number => Number(text.replace(/,/g, ""))

const timeout = 60_000

describe.concurrent("examples (npm run example -- NAME --small)", () => {
  it("distributed: two consumer processes on a local redis-server, one killed with kill -9, nothing lost", {
    timeout
  }, async () => {
    const out = succeeded(await runExample("distributed", "--small"))
    assert.match(out, /kill -9 consumer A \(pid \d+\) while it runs \d+ job\(s\)/)
    assert.include(out, "total: 1,507,122 primes below 24,000,000 (the sieve agrees)")
    assert.include(out, "none lost: 120 of 120 results")
  })

  it("fibonacci: same results on both sides, and a speedup figure", { timeout }, async () => {
    const out = succeeded(await runExample("fibonacci", "--small"))
    assert.include(out, "fib(32) = 2178309 on both sides")
    const speedup = Number(capture(out, /speedup: (\d+\.\d+)× with \d+ workers/))
    assert.isTrue(Number.isFinite(speedup) && speedup > 0, `speedup ${speedup}`)
  })

  it("matrix: the offloaded product equals the main thread's", { timeout }, async () => {
    const out = succeeded(await runExample("matrix", "--small"))
    assert.include(out, "check: equal, all 90,000 cells match the main-thread product")
  })

  it("primes: every range counted, the total checked by a sieve, higher priorities admitted first", {
    timeout
  }, async () => {
    const out = succeeded(await runExample("primes", "--small"))
    assert.include(out, "total: 33,860 primes below 400,000")
    assert.include(out, "(the sieve agrees)")
    for (const priority of ["low", "normal", "high", "critical"]) {
      assert.strictEqual(out.match(new RegExp(`\\)\\s+${priority}\\s+[\\d,]+\\s+\\d+ ms\\s+\\d+ ms`, "g"))?.length, 2)
    }
    const order = capture(out, /start order: ([\d ]+)/).trim().split(" ").map(Number)
    assert.sameMembers(order, [1, 2, 3, 4, 5, 6, 7, 8])
    // Ranges 7 and 8 are critical, 3 and 4 normal: queued together, the critical ones start first.
    assert.isBelow(Math.max(order.indexOf(7), order.indexOf(8)), Math.min(order.indexOf(3), order.indexOf(4)))
  })

  it("blocking: the timer ticks while the blocking lane works, and not while the main thread blocks", {
    timeout
  }, async () => {
    const out = succeeded(await runExample("blocking", "--small"))
    const offloaded = number(capture(out, /→ (\d+) ticks while they ran/))
    assert.isAbove(offloaded, 0)
    assert.include(out, "→ 0 ticks while it ran")
    assert.include(out, "the event loop kept turning during the offloaded calls")
  })

  it("mixed: each task's kind, timings and result", { timeout }, async () => {
    const out = succeeded(await runExample("mixed", "--small"))
    const rows: ReadonlyArray<readonly [string, string, string]> = [
      ["fib", "cpu", "196418"],
      ["count primes", "cpu", "9592"],
      ["Leibniz π", "cpu", "3.14159"],
      ["GET /user", "io", "200 OK { id: 42 }"],
      ["SELECT orders", "io", "17 rows"],
      ["sync read 1", "blocking", "read after 40 ms"],
      ["sync read 3", "blocking", "read after 40 ms"]
    ]
    for (const [name, kind, result] of rows) {
      const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
      assert.match(out, new RegExp(`${escaped(name)}\\s+${kind}\\s+\\d+ ms\\s+\\d+ ms\\s+${escaped(result)}`))
    }
    assert.match(out, /8 tasks done in/)
  })

  it("resilience: retries, the circuit's transitions and the fallbacks", { timeout }, async () => {
    const out = succeeded(await runExample("resilience", "--small"))
    const transitions = out.match(/circuit pricing-api: \w+ → \w+/g)
    assert.deepStrictEqual(transitions, [
      "circuit pricing-api: Closed → Open",
      "circuit pricing-api: Open → HalfOpen",
      "circuit pricing-api: HalfOpen → Closed"
    ])
    assert.strictEqual(out.match(/attempt \d/g)?.length, 3 + 3 + 3 + 0 + 1)
    assert.include(out, "no attempt: the open circuit rejected the request at once")
    assert.include(out, "fallback: circuit open")
    assert.include(out, "5 requests: 2 answered by pricing-api, 3 by the fallback; circuit Closed")
  })

  it("batch: progress up to the total, results checked, a throughput", { timeout }, async () => {
    const out = succeeded(await runExample("batch", "--small"))
    assert.match(out, /120,000\/120,000\s+100%\s+[\d,]+ items\/s/)
    assert.include(out, "all 120,000 results match the main thread's")
    assert.isAbove(number(capture(out, /processed 120,000 items in \d+(?:\.\d)? ms: ([\d,]+) items\/s/)), 0)
  })

  it("background: every handle resolves, cancelled ones with TaskCancelled", { timeout }, async () => {
    const out = succeeded(await runExample("background", "--small"))
    assert.include(out, "TaskCancelled (cancelled by handle)")
    assert.include(out, "a submit after shutdown fails at once with PoolShutDown")
    const [, ok, cancelled] = /every handle resolved: 7 of 7 \((\d+) succeeded, (\d+) cancelled with TaskCancelled\)/
      .exec(out) ?? []
    assert.isDefined(ok, out)
    assert.strictEqual(Number(ok) + Number(cancelled), 7)
    assert.isAtLeast(Number(cancelled), 2)
  })

  it("metrics: Prometheus samples of the tasks it ran", { timeout }, async () => {
    const out = succeeded(await runExample("metrics", "--small"))
    assert.include(out, "# TYPE orchestrator_tasks_succeeded_total counter")
    assert.include(out, `orchestrator_tasks_succeeded_total{task="thumbnail",kind="cpu",priority="high"} 3`)
    assert.include(out, `orchestrator_tasks_failed_total{task="fetch-profile",kind="io",priority="normal"} 1`)
    assert.include(out, `orchestrator_tasks_submitted_total{task="fsync",kind="blocking",priority="low"} 1`)
    assert.notInclude(out, "_bucket{")
  })

  it("the tour (no name): every example in order, on one orchestrator", { timeout }, async () => {
    const out = succeeded(await runExample())
    const names = [...out.matchAll(/^▶ (\w+) \((\d)\/9\)/gm)].map((m) => m[1])
    assert.deepStrictEqual(names, [
      "fibonacci",
      "matrix",
      "primes",
      "blocking",
      "mixed",
      "resilience",
      "batch",
      "background",
      "metrics"
    ])
    assert.include(out, "check: equal")
    assert.include(out, "every handle resolved: 7 of 7")
    assert.match(out, /tour finished in \d+\.\d s/)
  })

  it(
    "an unknown name or flag: effect/cli's error on stderr, the help on stdout, exit code 1",
    { timeout },
    async () => {
      const run = await runExample("nope")
      assert.strictEqual(run.code, 1)
      assert.include(run.stderr, `Invalid value for argument <name>: "nope"`)
      assert.include(run.stdout, "example [flags] [<name>]")
      assert.include(run.stdout, "fibonacci")
      assert.notInclude(run.stdout, "tour finished")
      const flag = await runExample("fibonacci", "--bogus")
      assert.strictEqual(flag.code, 1)
      assert.include(flag.stderr, "--bogus")
    }
  )

  it("--help lists the examples and exits with 0", { timeout }, async () => {
    const run = await runExample("--help")
    assert.strictEqual(run.code, 0, run.stderr)
    for (const name of ["fibonacci", "matrix", "primes", "blocking", "mixed", "resilience", "batch", "metrics"]) {
      assert.include(run.stdout, name)
    }
    assert.include(run.stdout, "--small")
  })
})
