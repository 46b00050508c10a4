// `npm run bench -- report`: grouping of a suite's measurements by measure, the comparisons, the SVG and the page.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { comparison, groupsOf, higherIsBetter, renderAll, renderMarkdown, renderSvg } from "../../bench/render.ts"
import type { Report } from "../../bench/report.ts"

const pool: Report = {
  suite: "pool",
  node: "v24.21.0",
  cpus: 2,
  results: [
    { name: "tiny tasks: ours", value: 500_000, unit: "tasks/s" },
    { name: "tiny tasks: piscina", value: 40_000, unit: "tasks/s" },
    { name: "round trip: ours", value: 8, unit: "µs (median)" },
    { name: "round trip: piscina", value: 10, unit: "µs (median)" },
    { name: "fib <30> & more: main thread", value: 189, unit: "ms" },
    { name: "idle GC: ours", value: 0, unit: "ms" },
    { name: "idle GC: piscina", value: 0, unit: "ms" }
  ],
  ratios: { tinyVsPiscina: 12.5 }
}

const scheduler: Report = {
  suite: "scheduler",
  node: "v24.21.0",
  cpus: 2,
  results: [
    { name: "ours: cost per admit, 10k queued", value: 2, unit: "µs" },
    { name: "p-queue: cost per admit, 10k queued", value: 3, unit: "µs" }
  ],
  ratios: {}
}

describe("bench report", () => {
  it("groups `<measure>: <contender>` and `<contender>: <measure>` names by measure", () => {
    assert.deepStrictEqual(groupsOf(pool.results).map((g) => [g.measure, g.entries.map((e) => e.contender)]), [
      ["tiny tasks", ["ours", "piscina"]],
      ["round trip", ["ours", "piscina"]],
      ["fib <30> & more", ["main thread"]],
      ["idle GC", ["ours", "piscina"]]
    ])
    assert.deepStrictEqual(groupsOf(scheduler.results).map((g) => [g.measure, g.entries.map((e) => e.contender)]), [
      ["cost per admit, 10k queued", ["ours", "p-queue"]]
    ])
  })

  it("compares each peer to ours in the direction of the unit", () => {
    assert.isTrue(higherIsBetter("tasks/s"))
    assert.isTrue(higherIsBetter("x main thread"))
    assert.isFalse(higherIsBetter("µs (median)"))
    const [tiny, trip] = groupsOf(pool.results)
    assert.strictEqual(comparison(tiny!, 40_000), "ours 12.5× better")
    assert.strictEqual(comparison(trip!, 10), "ours 1.25× better")
    assert.strictEqual(comparison(trip!, 4), "ours 2× worse")
    assert.isUndefined(comparison(trip!, 0))
  })

  it("draws one bar per contender of the charted measures, scaled to the largest, with names escaped", () => {
    const svg = renderSvg("pool", groupsOf(pool.results))
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    assert.strictEqual((svg.match(/<rect x="260"/g) ?? []).length, 4, "tiny tasks and round trip, two bars each")
    assert.include(svg, `<rect x="260" y="55" width="330" height="14" class="ours"/>`, "the largest fills the area")
    assert.include(svg, `width="26" height="14" class="peer"`, "40k of 500k is 8 % of 330")
    assert.include(svg, "(ours 12.5× better)")
    assert.notInclude(svg, "idle GC", "all-zero measures are not charted")
    assert.notInclude(svg, "fib <30>")
    assert.include(
      renderSvg(
        "x",
        groupsOf([
          { name: "a<b & c: ours", value: 1, unit: "ms" },
          { name: "a<b & c: peer", value: 2, unit: "ms" }
        ])
      ),
      "a&lt;b &amp; c (ms, lower is better)"
    )
  })

  it("writes the page and a chart per suite, linking them, with the uncharted measures and the ratios", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-report-"))
    try {
      const results = path.join(dir, "results")
      fs.mkdirSync(results)
      fs.writeFileSync(path.join(results, "pool.json"), JSON.stringify(pool))
      fs.writeFileSync(path.join(results, "scheduler.json"), JSON.stringify(scheduler))
      const written = renderAll(results, path.join(dir, "docs")).map((f) => path.relative(dir, f))
      assert.deepStrictEqual(written, [
        "docs/benchmarks/pool.svg",
        "docs/benchmarks/scheduler.svg",
        "docs/benchmarks.md"
      ])
      const page = fs.readFileSync(path.join(dir, "docs", "benchmarks.md"), "utf8")
      assert.include(page, "![pool benchmarks](benchmarks/pool.svg)")
      assert.include(page, "![scheduler benchmarks](benchmarks/scheduler.svg)")
      assert.include(page, "| fib &lt;30> &amp; more | main thread | 189 ms |")
      assert.include(page, "| `tinyVsPiscina` | 12.5 |")
      assert.strictEqual(page, renderMarkdown([pool, scheduler], (suite) => `benchmarks/${suite}.svg`))
      // a suite's written notes follow its tables, once there is a notes folder with its file
      const notes = path.join(dir, "notes")
      fs.mkdirSync(notes)
      fs.writeFileSync(path.join(notes, "pool.md"), "Where the memory goes: here.\n")
      renderAll(results, path.join(dir, "docs"), notes)
      const withNotes = fs.readFileSync(path.join(dir, "docs", "benchmarks.md"), "utf8")
      assert.include(withNotes, "| `tinyVsPiscina` | 12.5 |\n\nWhere the memory goes: here.\n\n## scheduler")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
