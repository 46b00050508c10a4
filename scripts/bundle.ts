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

const bundle = await rolldown({
  cwd: root,
  input: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, path.join(root, file)])),
  platform: "node",
  external: isDependency,
  treeshake: true,
  logLevel: "warn",
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
