/**
 * `npm run bench -- report`: renders `bench/results/<suite>.json` (written by each suite through `writeReport`) into
 * `docs/benchmarks.md`, with one SVG chart per suite under `docs/benchmarks/`: for every measure that several
 * contenders ran, a bar per contender, ours highlighted, and the ratio of each peer to ours.
 *
 * Names are `<measure>: <contender>` (pool) or `<contender>: <measure>` (scheduler); a suite whose names have
 * neither form (batch) is charted per unit. Pure functions apart from {@link renderAll}, so specs can check them.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Measurement, Report } from "./report.ts"

/** Measurements of one measure, by contender. */
export interface Group {
  readonly measure: string
  readonly unit: string
  readonly entries: ReadonlyArray<{ readonly contender: string; readonly value: number }>
}

const isOurs = (contender: string): boolean => contender === "ours" || contender.startsWith("ours ")

/** Higher is better for rates and speedups; lower for times, costs and sizes. */
export const higherIsBetter = (unit: string): boolean => /\/s$|^x\b/.test(unit)

/** Splits a suite's measurements into groups of one measure each, in the order they first appear. */
export const groupsOf = (results: ReadonlyArray<Measurement>): Array<Group> => {
  const split = results.map((r) => {
    const at = r.name.indexOf(": ")
    return at < 0 ? undefined : [r.name.slice(0, at), r.name.slice(at + 2)] as const
  })
  const contenderFirst = split.some((s) => s !== undefined && isOurs(s[0]))
  const contenderLast = split.some((s) => s !== undefined && isOurs(s[1]))
  const groups = new Map<string, { measure: string; unit: string; entries: Array<Group["entries"][number]> }>()
  results.forEach((r, i) => {
    const parts = split[i]
    const [measure, contender] = parts !== undefined && contenderLast
      ? [parts[0], parts[1]]
      : parts !== undefined && contenderFirst
      ? [parts[1], parts[0]]
      : [r.unit, r.name]
    const key = `${measure}\u0000${r.unit}`
    let group = groups.get(key)
    if (group === undefined) {
      group = { measure, unit: r.unit, entries: [] }
      groups.set(key, group)
    }
    group.entries.push({ contender, value: r.value })
  })
  return [...groups.values()]
}

/** A group is charted when at least two contenders ran it and one value is not zero. */
export const isChartable = (group: Group): boolean =>
  group.entries.length >= 2 && group.entries.some((e) => e.value !== 0)

/** How a peer compares to ours on the group's measure: `ours 1.8× better` or `ours 1.4× worse`. */
export const comparison = (group: Group, peer: number): string | undefined => {
  const ours = group.entries.find((e) => isOurs(e.contender))
  if (ours === undefined || peer === 0 || ours.value === 0) return undefined
  const ratio = higherIsBetter(group.unit) ? ours.value / peer : peer / ours.value
  return ratio >= 1 ? `ours ${format(ratio)}× better` : `ours ${format(1 / ratio)}× worse`
}

const format = (n: number): string =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en-US") : Number(n.toPrecision(3)).toString()

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const width = 760
const labelWidth = 260
const barArea = 330
const rowHeight = 20

/** One SVG for a suite: a panel per chartable group, a bar per contender scaled to the group's largest value. */
export const renderSvg = (suite: string, groups: ReadonlyArray<Group>): string => {
  const parts: Array<string> = []
  let y = 30
  parts.push(`<text x="10" y="20" class="title">${escape(suite)}</text>`)
  for (const group of groups.filter(isChartable)) {
    const better = higherIsBetter(group.unit) ? "higher is better" : "lower is better"
    parts.push(
      `<text x="10" y="${y + 14}" class="measure">${escape(`${group.measure} (${group.unit}, ${better})`)}</text>`
    )
    y += 22
    const max = Math.max(...group.entries.map((e) => e.value))
    for (const entry of group.entries) {
      const bar = max === 0 ? 0 : Math.max(1, Math.round((entry.value / max) * barArea))
      const ours = isOurs(entry.contender)
      const note = ours ? "" : comparison(group, entry.value)
      parts.push(
        `<text x="${labelWidth - 6}" y="${y + 14}" class="label" text-anchor="end">${escape(entry.contender)}</text>`,
        `<rect x="${labelWidth}" y="${y + 3}" width="${bar}" height="${rowHeight - 6}" class="${
          ours ? "ours" : "peer"
        }"/>`,
        `<text x="${labelWidth + bar + 6}" y="${y + 14}" class="value">${escape(format(entry.value))}${
          note === undefined || note === "" ? "" : ` <tspan class="note">(${escape(note)})</tspan>`
        }</text>`
      )
      y += rowHeight
    }
    y += 12
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" role="img">`,
    `<title>${escape(`${suite} benchmarks: ours against each peer`)}</title>`,
    "<style>text{font:12px sans-serif;fill:#222}.title{font-weight:bold;font-size:14px}.measure{font-weight:bold}",
    ".note{fill:#666}.ours{fill:#2b6cb0}.peer{fill:#a0aec0}</style>",
    `<rect width="${width}" height="${y}" fill="#fff"/>`,
    ...parts,
    "</svg>",
    ""
  ].join("\n")
}

// A table cell: no HTML and no column breaks from a measurement's name.
const cell = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\|/g, "\\|")

/**
 * The markdown page: per suite its chart, the measurements not charted, the suite's ratios, and its written
 * notes (`notes[suite]`, markdown: what a table cannot say, such as where a soak's memory goes).
 */
export const renderMarkdown = (
  reports: ReadonlyArray<Report>,
  chartPath: (suite: string) => string,
  notes: Readonly<Record<string, string>> = {}
): string => {
  const lines = [
    "# Benchmarks",
    "",
    "Rendered by `npm run bench -- report` from `bench/results/*.json`; each suite is run with",
    "`npm run bench -- SUITE`, side by side with its peers in one process, so compare the ratios rather than the",
    "absolute figures (shared 2-core machines swing by ±30 % between runs). Ours is the dark bar; each peer's",
    "note says how ours compares on that measure.",
    ""
  ]
  for (const report of reports) {
    const groups = groupsOf(report.results)
    lines.push(`## ${report.suite}`, "", `Node ${report.node}, ${report.cpus} cpus.`, "")
    if (groups.some(isChartable)) lines.push(`![${report.suite} benchmarks](${chartPath(report.suite)})`, "")
    const rest = groups.filter((g) => !isChartable(g))
    if (rest.length > 0) {
      lines.push("| measure | contender | value |", "|---|---|---|")
      for (const g of rest) {
        for (const e of g.entries) {
          lines.push(`| ${cell(g.measure)} | ${cell(e.contender)} | ${format(e.value)} ${cell(g.unit)} |`)
        }
      }
      lines.push("")
    }
    const ratios = Object.entries(report.ratios)
    if (ratios.length > 0) {
      lines.push("| ratio | value |", "|---|---|")
      for (const [name, value] of ratios) lines.push(`| \`${name}\` | ${format(value)} |`)
      lines.push("")
    }
    const note = notes[report.suite]?.trim()
    if (note !== undefined && note !== "") lines.push(note, "")
  }
  return lines.join("\n")
}

/**
 * Reads every `<results>/*.json` (and `<notes>/<suite>.md` where there is one) and writes `<out>/benchmarks.md`
 * and `<out>/benchmarks/<suite>.svg`.
 */
export const renderAll = (results: string, out: string, notesDir?: string): ReadonlyArray<string> => {
  const files = fs.readdirSync(results).filter((f) => f.endsWith(".json")).sort()
  const reports = files.map((f) => JSON.parse(fs.readFileSync(path.join(results, f), "utf8")) as Report)
  const charts = path.join(out, "benchmarks")
  fs.mkdirSync(charts, { recursive: true })
  const written: Array<string> = []
  for (const report of reports) {
    const groups = groupsOf(report.results)
    if (!groups.some(isChartable)) continue
    const file = path.join(charts, `${report.suite}.svg`)
    fs.writeFileSync(file, renderSvg(report.suite, groups))
    written.push(file)
  }
  const notes: Record<string, string> = {}
  for (const report of reports) {
    const file = notesDir === undefined ? undefined : path.join(notesDir, `${report.suite}.md`)
    if (file !== undefined && fs.existsSync(file)) notes[report.suite] = fs.readFileSync(file, "utf8")
  }
  const page = path.join(out, "benchmarks.md")
  fs.writeFileSync(page, renderMarkdown(reports, (suite) => `benchmarks/${suite}.svg`, notes))
  written.push(page)
  return written
}
