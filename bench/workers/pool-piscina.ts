// Worker of the pool benchmark for piscina: one named export per task (`piscina.run(x, { name })`).
export { fib, sum } from "./pool-plain.ts"

export const inc = (x: number): number => x + 1
