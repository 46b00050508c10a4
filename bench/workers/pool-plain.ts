// The benchmark's work in plain TypeScript, for the piscina and raw workers (no effect imports).
export const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)

export const sum = (xs: Float64Array): number => {
  // The length is read once: in a thread that has ever detached an ArrayBuffer (any transfer out of it, or the
  // WebAssembly memory of Node's TypeScript stripping, which every `.ts` worker loads), V8's optimised code for
  // `i < xs.length` re-reads the length on every iteration and runs about 6× slower. The switch to that code
  // comes after 500–1,000 calls, so without this each contender would slow down at its own moment of the run.
  const length = xs.length
  let total = 0
  for (let i = 0; i < length; i++) total += xs[i]!
  return total
}
