/**
 * Turning a function into source text and back, for `offload`. Only self-contained functions survive the trip:
 * the worker compiles the text in its own global scope, so anything the function captured (closures, `this`,
 * imports, module-level constants) is not there.
 *
 * Imported inside workers: no `effect` imports at all.
 *
 * @internal
 */

/** Why a function cannot be offloaded, or its source text. */
export type Checked = { readonly ok: true; readonly source: string } | { readonly ok: false; readonly detail: string }

const compiled = new Map<string, (...args: Array<unknown>) => unknown>()
const maxCached = 512

/**
 * Compiles function source text in the global scope of this thread (cached by text). Throws `SyntaxError`
 * when the text is not a function expression (a method shorthand, for instance).
 */
export const compile = (source: string): (...args: Array<unknown>) => unknown => {
  let fn = compiled.get(source)
  if (fn === undefined) {
    fn = new Function(`"use strict";\nreturn (${source}\n)`)() as (...args: Array<unknown>) => unknown
    if (typeof fn !== "function") throw new TypeError("the source text is not a function")
    if (compiled.size >= maxCached) compiled.clear()
    compiled.set(source, fn)
  }
  return fn
}

/**
 * Applies `fn` to each item, in order: one message carries a whole chunk of items (`batchOffload`). When some
 * result is a promise, the answer waits for all of them.
 */
export const mapEach = (fn: (item: unknown) => unknown, items: ReadonlyArray<unknown>): unknown => {
  // the length is read once: see the note on `sum` in the pool benchmark (detached buffers slow `i < xs.length`)
  const length = items.length
  const out = new Array(length)
  let async = false
  for (let i = 0; i < length; i++) {
    const result = fn(items[i])
    if (result instanceof Promise) async = true
    out[i] = result
  }
  return async ? Promise.all(out) : out
}

// Good enough to find `this`/`super` in code without being fooled by the same words in strings or comments.
const stripStringsAndComments = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|`(?:\\[\s\S]|[^\\`])*`|'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"/g, "\"\"")

const checkedSources = new Map<string, Checked>()

/**
 * Checks on the calling side that a function can be sent: not native or bound, not a class, a function
 * expression or arrow that compiles on its own, and no `this` or `super`. Captured variables cannot be
 * detected here; the worker reports them when the function first touches one (a `ReferenceError`).
 */
export const check = (fn: unknown): Checked => {
  if (typeof fn !== "function") return { ok: false, detail: `expected a function, got ${typeof fn}` }
  const source = Function.prototype.toString.call(fn)
  const cached = checkedSources.get(source)
  if (cached !== undefined) return cached
  const result = checkSource(source, fn.name)
  if (checkedSources.size >= maxCached) checkedSources.clear()
  checkedSources.set(source, result)
  return result
}

const checkSource = (source: string, name: string): Checked => {
  const label = name ? `function ${name}` : "the function"
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    return {
      ok: false,
      detail: `${label} is native or bound (Function.prototype.bind); only plain functions can be sent`
    }
  }
  if (/^class\b/.test(source)) return { ok: false, detail: `${label} is a class; send a plain function` }
  const code = stripStringsAndComments(source)
  if (/(^|[^.\w$])(this|super)\b/.test(code)) {
    return {
      ok: false,
      detail: `${label} uses \`this\` or \`super\`, which do not exist in the worker; pass what it needs as arguments`
    }
  }
  try {
    compile(source)
  } catch (error) {
    return {
      ok: false,
      detail: `${label} cannot be compiled on its own (${
        (error as Error).message
      }); use a function expression or an arrow function, not a method shorthand`
    }
  }
  return { ok: true, source }
}

/** The message that explains a `ReferenceError` thrown by an offloaded function. */
export const notSelfContained = (name: string, error: unknown): string =>
  `${name ? `function ${name}` : "the function"} refers to something that does not exist in the worker (${
    (error as Error).message
  }): offloaded functions run from their source text alone, so they cannot use closures, imports or module variables; pass values as arguments`
