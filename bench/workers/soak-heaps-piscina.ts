// Worker of `bench/soak-heaps.ts` for piscina.
import { heap as probe } from "./soak-heaps.ts"
import type { Heap } from "./soak-heaps.ts"

export const work = (id: number): number => id
export const heap = (spinMillis: number): Heap => probe(spinMillis)
