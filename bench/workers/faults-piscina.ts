// Worker of the faults benchmark for piscina: the same healthy and poisoned calls as
// `test/faults/fixtures/fault-worker.ts`, each execution logged to the file named by `FAULT_LOG`.
import * as fs from "node:fs"

const log = process.env.FAULT_LOG
let hoard: Array<Array<number>> = []

export const work = (id: number): number => {
  if (log !== undefined) fs.appendFileSync(log, `${id}\n`)
  return id
}

export const poison = (kind: string): Promise<number> | number => {
  if (log !== undefined) fs.appendFileSync(log, `poison:${kind}\n`)
  if (kind === "exit") process.exit(3)
  if (kind === "uncaught") {
    setTimeout(() => {
      throw new RangeError("thrown outside any fiber")
    }, 1)
    return new Promise(() => {})
  }
  while (kind === "oom") hoard.push(new Array(1_000_000).fill(1))
  while (kind === "loop") {
    // never yields
  }
  hoard = []
  return 0
}
