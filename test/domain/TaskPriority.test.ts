import { assert, describe, it } from "@effect/vitest"
import { Array, Schema } from "effect"
import * as fc from "fast-check"
import { rankOf } from "../../src/domain/TaskPriority.ts"
import { TaskKind, TaskPriority } from "../../src/index.ts"

describe("TaskPriority", () => {
  it("orders critical > high > normal > low", () => {
    assert.deepStrictEqual(
      Array.sort(["low", "normal", "critical", "high", "low", "critical"] as const, TaskPriority.Order),
      ["critical", "critical", "high", "normal", "low", "low"]
    )
  })

  it("rank and fromRank are inverse and dense from 0", () => {
    TaskPriority.levels.forEach((level, i) => {
      assert.strictEqual(TaskPriority.rank(level), i)
      assert.strictEqual(TaskPriority.fromRank(TaskPriority.rank(level)), level)
    })
  })

  it("rankOf ranks the four levels and nothing else, prototype keys included", () => {
    TaskPriority.levels.forEach((level, i) => assert.strictEqual(rankOf(level), i))
    for (const value of ["toString", "__proto__", "hasOwnProperty", "Normal", "", 2, undefined, null, {}]) {
      assert.isUndefined(rankOf(value), String(value))
    }
    fc.assert(fc.property(
      fc.string(),
      (value) =>
        rankOf(value) === ((TaskPriority.levels as ReadonlyArray<string>).includes(value)
          ? TaskPriority.rank(value as TaskPriority.TaskPriority)
          : undefined)
    ))
  })

  it("Order agrees with rank on every pair", () => {
    fc.assert(fc.property(
      fc.constantFrom(...TaskPriority.levels),
      fc.constantFrom(...TaskPriority.levels),
      (a, b) => TaskPriority.Order(a, b) === Math.sign(TaskPriority.rank(a) - TaskPriority.rank(b))
    ))
  })

  it("decodes the four levels and rejects anything else", () => {
    for (const level of TaskPriority.levels) {
      assert.strictEqual(Schema.decodeUnknownSync(TaskPriority.TaskPriority)(level), level)
    }
    for (const bad of ["urgent", "CRITICAL", 0, null, undefined]) {
      assert.throws(() => Schema.decodeUnknownSync(TaskPriority.TaskPriority)(bad))
    }
  })

  it("defaults to normal", () => {
    assert.strictEqual(TaskPriority.defaultPriority, "normal")
  })
})

describe("TaskKind", () => {
  it("decodes cpu, io and blocking and rejects anything else", () => {
    for (const kind of TaskKind.kinds) {
      assert.strictEqual(Schema.decodeUnknownSync(TaskKind.TaskKind)(kind), kind)
    }
    for (const bad of ["gpu", "", 1]) {
      assert.throws(() => Schema.decodeUnknownSync(TaskKind.TaskKind)(bad))
    }
  })
})
