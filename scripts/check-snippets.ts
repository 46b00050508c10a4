// Type-checks every ```ts block of README.md and docs/*.md as a module of its own, against the package as a user
// installs it: `import ... from "effect-orchestrator"` resolves through package.json `exports` to the built
// `dist/*.d.ts` (run `npm run build` first), with the strict settings of this repository.
//
// A block whose first line is a comment naming a file (`// tasks.ts: shared by ...`) is written under that name,
// so the other blocks of the same page can import it (`import { Fib } from "./tasks.ts"`); any other block is
// `block-<n>.ts`. Errors are reported at the page's own line numbers.
//
// Then the blocks that are specs (`// name.test.ts`) run under vitest, so a documented spec is known to pass.
//
// `--source` checks against `src` instead of `dist` (through the `effect-orchestrator-source` export
// condition): quicker while editing, but CI checks the built typings.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** One code block of a page. */
export interface Snippet {
  /** The page, relative to the repository root. */
  readonly page: string
  /** The file the block is written to, relative to the page's folder of snippets. */
  readonly file: string
  /** Line of the page where the block's code starts (1-based). */
  readonly line: number
  readonly code: string
}

const fileComment = /^\/\/ ([\w.-]+\.ts)\b/

/** The ```ts (or ```typescript) blocks of a markdown page, in order. */
export const extract = (page: string, markdown: string): Array<Snippet> => {
  const lines = markdown.split("\n")
  const snippets: Array<Snippet> = []
  const files = new Set<string>()
  let i = 0
  while (i < lines.length) {
    const open = /^(\s*)(`{3,})(ts|typescript)\s*$/.exec(lines[i]!)
    if (open === null) {
      i++
      continue
    }
    const [, indent, fence] = open
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end]!.trim() !== fence) end++
    if (end === lines.length) throw new Error(`${page}:${i + 1}: code block never closed`)
    const code = lines.slice(start, end).map((l) => l.startsWith(indent!) ? l.slice(indent!.length) : l).join("\n")
    const named = fileComment.exec(code)
    const file = named?.[1] ?? `block-${snippets.length + 1}.ts`
    if (files.has(file)) throw new Error(`${page}:${start + 1}: a second block is named ${file}`)
    files.add(file)
    snippets.push({ page, file, line: start + 1, code: `${code}\n` })
    i = end + 1
  }
  return snippets
}

/** The pages whose blocks are checked: the README and every page of docs/. */
export const pages = (root: string): Array<string> => {
  const docs = path.join(root, "docs")
  const inDocs = fs.existsSync(docs)
    ? fs.readdirSync(docs).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)
    : []
  return ["README.md", ...inDocs]
}

const folderOf = (page: string): string => page.replace(/\.md$/, "").replace(/[^\w-]+/g, "_")

/** A compiler diagnostic mapped back to its page. */
export interface Problem {
  readonly at: string
  readonly message: string
}

/**
 * Writes the snippets under `<root>/.snippets` (or `options.dir`) and type-checks them in one program; returns the problems, each at
 * its page's line. `root` must be this package's folder (or one with the same name and `exports`), so that the
 * package's own name resolves.
 */
export const check = (
  root: string,
  snippets: ReadonlyArray<Snippet>,
  options: {
    /** Check against `src` (the `effect-orchestrator-source` condition) instead of `dist`. */
    readonly source?: boolean
    /** Where the snippets are written, inside `root`; default `.snippets`. */
    readonly dir?: string
  } = {}
): Array<Problem> => {
  const dir = path.join(root, options.dir ?? ".snippets")
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const byFile = new Map<string, Snippet>()
  for (const snippet of snippets) {
    const file = path.join(folderOf(snippet.page), snippet.file)
    fs.mkdirSync(path.join(dir, folderOf(snippet.page)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), snippet.code)
    byFile.set(file, snippet)
  }
  const base = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8")).compilerOptions
  const compilerOptions = {
    ...base,
    // A user's program may well leave a binding unused; the checks that matter are the types.
    noUnusedLocals: false,
    noUnusedParameters: false,
    moduleDetection: "force",
    customConditions: options.source === true ? ["effect-orchestrator-source"] : []
  }
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["**/*.ts"] }))
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
  const result = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json"), "--pretty", "false"], {
    cwd: dir,
    encoding: "utf8"
  })
  const output = `${result.stdout}${result.stderr}`
  const problems: Array<Problem> = []
  for (const text of output.split(/\n(?=\S)/)) {
    if (text.trim() === "") continue
    const match = /^(.+?)\((\d+),(\d+)\): (.*)$/s.exec(text.trim())
    const snippet = match === null ? undefined : byFile.get(path.normalize(match[1]!))
    problems.push(
      match === null || snippet === undefined
        ? { at: "tsc", message: text.trim() }
        : { at: `${snippet.page}:${snippet.line + Number(match[2]) - 1}:${match[3]}`, message: match[4]! }
    )
  }
  if (problems.length === 0 && result.status !== 0) problems.push({ at: "tsc", message: `exit code ${result.status}` })
  return problems
}

/**
 * Runs the snippets named `*.test.ts` (written by {@link check} under `dir`) with vitest; returns its exit code.
 * With `source`, the package's name resolves to `src` in the specs and in the workers they start.
 */
export const runSpecs = (
  root: string,
  options: { readonly source?: boolean; readonly dir?: string } = {}
): number => {
  const dir = path.join(root, options.dir ?? ".snippets")
  const conditions = options.source === true ? ["effect-orchestrator-source"] : []
  const config = `import { defineConfig } from "vitest/config"
export default defineConfig({
  resolve: { conditions: ${JSON.stringify(conditions)} },
  ssr: { resolve: { conditions: ${JSON.stringify(conditions)} } },
  test: { root: ${JSON.stringify(dir)}, include: ["**/*.test.ts"], testTimeout: 60_000 }
})
`
  fs.writeFileSync(path.join(dir, "vitest.config.ts"), config)
  const vitest = path.join(root, "node_modules", "vitest", "vitest.mjs")
  const nodeOptions = [process.env.NODE_OPTIONS, ...conditions.map((c) => `--conditions=${c}`)].filter(Boolean)
  const result = spawnSync(process.execPath, [vitest, "run", "--config", path.join(dir, "vitest.config.ts")], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NODE_OPTIONS: nodeOptions.join(" ") }
  })
  return result.status ?? 1
}

const main = (): void => {
  const root = fileURLToPath(new URL("..", import.meta.url))
  const source = process.argv.includes("--source")
  if (!source && !fs.existsSync(path.join(root, "dist", "index.d.ts"))) {
    console.error("check-snippets: dist/index.d.ts is missing; run `npm run build` first (or pass --source)")
    process.exit(2)
  }
  const snippets = pages(root).flatMap((page) => extract(page, fs.readFileSync(path.join(root, page), "utf8")))
  const problems = check(root, snippets, { source })
  for (const problem of problems) console.error(`${problem.at}: ${problem.message}`)
  const count = new Set(snippets.map((s) => s.page)).size
  if (problems.length > 0) {
    console.error(`check-snippets: ${problems.length} problem(s) in ${snippets.length} blocks of ${count} pages`)
    process.exit(1)
  }
  console.log(
    `check-snippets: ${snippets.length} blocks of ${count} pages type-check against ${source ? "src" : "dist"}`
  )
  if (snippets.some((s) => s.file.endsWith(".test.ts"))) {
    const status = runSpecs(root, { source })
    if (status !== 0) {
      console.error("check-snippets: a documented spec failed")
      process.exit(status)
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  main()
}
