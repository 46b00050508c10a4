// The snippet check (scripts/check-snippets.ts): how blocks are cut out of a page, that a type error is reported
// at the page's own line, and that every block of README.md and docs/ type-checks (against src here; CI checks
// them against the built dist as well).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { check, extract, pages } from "../../scripts/check-snippets.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("extract", () => {
  it("cuts out ts and typescript blocks, names them by their first comment, and keeps page lines", () => {
    const page = [
      "# title", //  1
      "```ts", //    2
      "// tasks.ts: shared", // 3
      "export const a = 1", // 4
      "```", //      5
      "```sh", //    6
      "npm test", // 7
      "```", //      8
      "- a list item:", // 9
      "  ```typescript", // 10
      "  const b: number = 2", // 11
      "  ```" //     12
    ].join("\n")
    const snippets = extract("docs/x.md", page)
    assert.deepStrictEqual(snippets.map((s) => [s.file, s.line]), [["tasks.ts", 3], ["block-2.ts", 11]])
    assert.strictEqual(snippets[0]!.code, "// tasks.ts: shared\nexport const a = 1\n")
    assert.strictEqual(snippets[1]!.code, "const b: number = 2\n")
  })

  it("rejects a block that is never closed and two blocks with one name", () => {
    assert.throws(() => extract("a.md", "```ts\nconst a = 1\n"), /a\.md:1: code block never closed/)
    assert.throws(
      () => extract("a.md", "```ts\n// w.ts\n```\n```ts\n// w.ts\n```\n"),
      /a\.md:5: a second block is named w\.ts/
    )
  })
})

describe("check", () => {
  it("finds every page: the README and each page of docs/", () => {
    const found = pages(root)
    assert.strictEqual(found[0], "README.md")
    const docs = fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md"))
    assert.strictEqual(found.length, docs.length + 1)
  })

  it("passes every block of the docs, and reports a broken block at its page's line", { timeout: 120_000 }, () => {
    const documented = pages(root).flatMap((page) => extract(page, fs.readFileSync(path.join(root, page), "utf8")))
    assert.isAbove(documented.length, 20)
    const broken = extract(
      "broken.md",
      [
        "text",
        "```ts",
        "// lib.ts",
        "export const n: number = 1",
        "```",
        "```ts",
        "import { n } from \"./lib.ts\"",
        "import { WorkerPool } from \"effect-orchestrator\"",
        "const s: string = n", // line 9: number is not a string
        "WorkerPool.nothingHere", // line 10: no such export
        "```"
      ].join("\n")
    )
    const problems = check(root, [...documented, ...broken], { source: true, dir: ".snippets-test" })
    fs.rmSync(path.join(root, ".snippets-test"), { recursive: true, force: true })
    assert.deepStrictEqual(problems.filter((p) => !p.at.startsWith("broken.md:")), [], "documented blocks")
    assert.deepStrictEqual(problems.map((p) => p.at), ["broken.md:9:7", "broken.md:10:12"])
    assert.match(problems[0]!.message, /TS2322/)
    assert.match(problems[1]!.message, /TS2339.*nothingHere/)
  })
})
