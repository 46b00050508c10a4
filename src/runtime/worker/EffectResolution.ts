/**
 * A faster module resolution for `effect`'s own files, installed by the worker bootstraps before they import
 * the entry. Loading `effect/Effect` and `effect/Schema` loads about 140 modules that import one another
 * with relative specifiers, and Node's resolver checks the file system for each of those imports: measured,
 * 20–25 ms of the 55 ms a worker spends importing them. Inside `effect`'s `dist` folder every relative
 * specifier names a file of the same package with its extension, so the hook resolves those as URLs alone
 * and hands everything else to Node. It resolves `effect` from here once; a different copy of `effect` that
 * the entry may load is resolved the normal way.
 *
 * No imports but `node:module`: a bootstrap loads this before anything heavy.
 *
 * @internal
 */
import * as module from "node:module"

/**
 * The URL of a relative `specifier` imported by `parent`, when both are inside `dist` (a folder URL ending in
 * "/") and it names a `.js` file; undefined otherwise (Node resolves it).
 */
export const resolveWithin = (dist: string, specifier: string, parent: string | undefined): string | undefined => {
  if (parent === undefined || !parent.startsWith(dist) || specifier.charCodeAt(0) !== 46 /* "." */) return undefined
  if (!specifier.endsWith(".js")) return undefined
  const url = new URL(specifier, parent).href
  return url.startsWith(dist) ? url : undefined
}

/** The `dist` folder of the `effect` that this module resolves, as a URL ending in "/"; undefined if none. */
export const effectDist = (): string | undefined => {
  try {
    return new URL(".", import.meta.resolve("effect/Effect")).href
  } catch {
    return undefined
  }
}

/** Installs the hook in this thread (or process); does nothing where Node has no `module.registerHooks`. */
export const install = (): void => {
  if (typeof module.registerHooks !== "function") return
  const dist = effectDist()
  if (dist === undefined) return // no `effect` to be found from here: nothing to speed up
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const url = resolveWithin(dist, specifier, context.parentURL)
      return url === undefined ? nextResolve(specifier, context) : { url, format: "module", shortCircuit: true }
    }
  })
}
