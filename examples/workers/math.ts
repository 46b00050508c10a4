// Pure kernels shared by the worker handlers and the main-thread reference computations, so both sides compute
// the same thing in the same order (floating-point results compare equal bit for bit).
// Imported inside workers: no imports at all.

/** The naive doubly recursive Fibonacci: exponential time, a classic CPU-bound benchmark. */
export const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)

/**
 * Multiplies a block of rows of A (`rows`, row-major, `inner` columns) by B (`inner` × `cols`, row-major) and
 * returns that block of the product (row-major, `cols` columns).
 */
export const multiplyRows = (rows: Float64Array, b: Float64Array, inner: number, cols: number): Float64Array => {
  const count = rows.length / inner
  const out = new Float64Array(count * cols)
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < inner; k++) {
      const a = rows[i * inner + k]!
      if (a === 0) continue
      const bRow = k * cols
      const outRow = i * cols
      for (let j = 0; j < cols; j++) out[outRow + j]! += a * b[bRow + j]!
    }
  }
  return out
}

/** Counts the primes in `[from, to)` by trial division: deliberately CPU-heavy, and heavier for larger numbers. */
export const countPrimes = (from: number, to: number): number => {
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    if (n % 2 === 0) {
      if (n === 2) count++
      continue
    }
    let prime = true
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) {
        prime = false
        break
      }
    }
    if (prime) count++
  }
  return count
}

/** The primes below `limit` by the sieve of Eratosthenes, on the main thread: the reference count. */
export const sieveCount = (limit: number): number => {
  const composite = new Uint8Array(limit)
  let primes = 0
  for (let n = 2; n < limit; n++) {
    if (composite[n] === 1) continue
    primes++
    for (let m = n * n; m < limit; m += n) composite[m] = 1
  }
  return primes
}
