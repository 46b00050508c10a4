// The JavaScript of `npm run build`: the package's entries bundled from `src` by rolldown, with every dependency
// (`effect`, `bullmq`, ...) left to the program's `node_modules`, so that a program and its workers share one copy
// of each. Loading 50-odd modules one by one cost the barrel about half of its import time (each file resolved,
// read and compiled on its own, each of its bare imports resolved through `effect`'s package.json again); bundled,
// the barrel is a few files. Modules shared by entries go to shared chunks, so the main and worker entries still
// share one instance of each module.
//
// The worker bootstraps are entries of their own at the paths they have in `src` (`runtime/worker/`). The pool's
// transport finds them relative to its own URL, and being imported by the barrel alone it is part of `index.js`
// (src/runtime/pool/Transport.ts knows this; test/build.test.ts spawns workers from a bundle).
//
// `node scripts/bundle.ts [outDir]` (default `dist`); the typings come from `tsc -p tsconfig.build.json`.
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { rolldown } from "rolldown"

const root = fileURLToPath(new URL("..", import.meta.url))
const outDir = path.resolve(root, process.argv[2] ?? "dist")

/** Entry name (the output path without `.js`) to source. */
const entries: Record<string, string> = {
  "index": "src/index.ts",
  "worker": "src/worker.ts",
  "runtime/worker/ThreadBootstrap": "src/runtime/worker/ThreadBootstrap.ts",
  "runtime/worker/ProcessBootstrap": "src/runtime/worker/ProcessBootstrap.ts",
  "runtime/worker/FunctionWorker": "src/runtime/worker/FunctionWorker.ts"
}

const isDependency = (id: string): boolean => !id.startsWith(".") && !path.isAbsolute(id) && !id.startsWith("\0")

/** What `effect`'s barrel exports from `effect/Function` rather than as a module namespace. */
const functionExports = new Set(["absurd", "cast", "flow", "hole", "identity", "pipe"])

/**
 * The sources import `effect`'s barrel (`import { Effect, Schema } from "effect"`), whose `index.js` loads every
 * one of `effect`'s 250-odd modules, SQL, persistence and transactional ones included. In a program that imports
 * `effect` itself that costs nothing more; but a worker whose task definitions import `WorkerTask` from this
 * package loads this package's barrel, and through it all of `effect`: measured, 247 of `effect`'s modules
 * instead of 143, about 80 ms more to a typed worker's first result. In the build, each such import becomes one
 * import of the module it names (`import * as Effect from "effect/Effect"`), so a worker loads only what this
 * package's own modules use.
 */
const deepEffectImports = (code: string): string =>
  code.replace(
    /^import (type )?\{([^}]*)\} from "effect"\n/gm,
    (_, typeOnly: string | undefined, names: string) =>
      names.split(",").map((name) => name.trim()).filter((name) => name.length > 0).map((name) => {
        const type = typeOnly ?? (name.startsWith("type ") ? "type " : "")
        const [imported, local = imported] = name.replace(/^type /, "").split(/\s+as\s+/) as [string, string?]
        return functionExports.has(imported)
          ? `import ${type}{ ${imported} as ${local} } from "effect/Function";`
          : `import ${type}* as ${local} from "effect/${imported}";`
      }).join(" ") + "\n".repeat(names.split("\n").length)
  )

const bundle = await rolldown({
  cwd: root,
  input: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, path.join(root, file)])),
  platform: "node",
  external: isDependency,
  treeshake: true,
  logLevel: "warn",
  plugins: [{
    name: "deep-effect-imports",
    // One line per line replaced, so that the source map stays right (hence `map: null`).
    transform: (code, id) => {
      if (!id.startsWith(path.join(root, "src"))) return undefined
      const deep = deepEffectImports(code)
      return deep === code ? undefined : { code: deep, map: null }
    }
  }],
  onLog: (level, log, handler) => {
    // Server's dynamic imports of modules the barrel loads anyway are meant for the worker entry alone.
    if (log.code === "INEFFECTIVE_DYNAMIC_IMPORT") return
    handler(level, log)
  }
})
try {
  await bundle.write({
    dir: outDir,
    format: "esm",
    sourcemap: true,
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js"
  })
} finally {
  await bundle.close()
}
