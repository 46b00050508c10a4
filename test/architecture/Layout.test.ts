// The layout's rules (see docs/architecture.md), checked on every import in src/, so that a change that breaks
// one fails here rather than in review. Type-only imports cost nothing at run time and are allowed across the
// worker boundary; value imports are what loads code into a thread.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const src = path.resolve(import.meta.dirname, "../../src")

interface Import {
  readonly from: string
  readonly specifier: string
  /** The file it resolves to, relative to src/, for relative specifiers. */
  readonly target: string | undefined
  readonly typeOnly: boolean
}

const files = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    return entry.isDirectory() ? files(file) : entry.name.endsWith(".ts") ? [file] : []
  })

const importsOf = (file: string): Array<Import> => {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const found: Array<Import> = []
  const add = (specifier: string, typeOnly: boolean) =>
    found.push({
      from: path.relative(src, file),
      specifier,
      target: specifier.startsWith(".") ? path.relative(src, path.resolve(path.dirname(file), specifier)) : undefined,
      typeOnly
    })
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly ||
        (clause.name === undefined && clause.namedBindings !== undefined &&
          ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      add(node.moduleSpecifier.text, typeOnly)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly)
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)
    ) {
      add(node.arguments[0].text, false)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const all = files(src).flatMap(importsOf)
const under = (folder: string) => (p: string | undefined) => p !== undefined && p.startsWith(folder + path.sep)
const violations = (rule: (i: Import) => boolean) =>
  all.filter(rule).map((i) => `${i.from} imports ${i.specifier}${i.typeOnly ? " (types)" : ""}`)

describe("layout", () => {
  it("runtime never imports layers", () => {
    assert.deepStrictEqual(violations((i) => under("runtime")(i.from) && under("layers")(i.target)), [])
  })

  it("domain imports only domain, effect and node", () => {
    assert.deepStrictEqual(
      violations((i) =>
        under("domain")(i.from) &&
        (i.target !== undefined ? !under("domain")(i.target) : !/^(effect(\/|$)|node:)/.test(i.specifier))
      ),
      []
    )
  })

  it("wire/, which workers load, imports nothing heavy: no effect barrel, no layers, no pool or worker side", () => {
    assert.deepStrictEqual(
      violations((i) =>
        under(path.join("runtime", "wire"))(i.from) && !i.typeOnly &&
        (i.specifier === "effect" || i.specifier.startsWith("@effect/") ||
          (i.target !== undefined && !under(path.join("runtime", "wire"))(i.target) && !under("domain")(i.target)))
      ),
      []
    )
  })

  it("only worker entries and the in-process transport load worker/ code", () => {
    const allowed = new Set(["worker.ts", "index.ts", path.join("runtime", "pool", "Transport.ts")])
    assert.deepStrictEqual(
      violations((i) =>
        !i.typeOnly && under(path.join("runtime", "worker"))(i.target) &&
        !under(path.join("runtime", "worker"))(i.from) && !allowed.has(i.from)
      ),
      []
    )
  })

  it("worker/ code never loads the pool's main side", () => {
    assert.deepStrictEqual(
      violations((i) =>
        !i.typeOnly && under(path.join("runtime", "worker"))(i.from) && under(path.join("runtime", "pool"))(i.target)
      ),
      []
    )
  })

  it("every relative import names a file that exists", () => {
    assert.deepStrictEqual(
      all.filter((i) => i.target !== undefined && !fs.existsSync(path.join(src, i.target))).map((i) =>
        `${i.from} imports ${i.specifier}`
      ),
      []
    )
  })
})
