// The benchmark's work in plain TypeScript, for the piscina and raw workers (no effect imports).
export const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)

export const sum = (xs: Float64Array): number => {
  let total = 0
  for (let i = 0; i < xs.length; i++) total += xs[i]!
  return total
}
