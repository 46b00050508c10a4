import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric } from "effect"
import { TaskCancelled, TaskTimeout } from "../../src/index.ts"
import type { TaskResult } from "../../src/index.ts"
import * as TaskMetrics from "../../src/runtime/orchestrator/TaskMetrics.ts"

const labels = { task: "resize", kind: "cpu", priority: "high" } as const

const result = (exit: Exit.Exit<unknown, unknown>, attempts = 1): TaskResult.TaskResult<unknown, unknown> => ({
  taskId: "t",
  name: labels.task,
  kind: labels.kind,
  priority: labels.priority,
  enqueuedAt: 0,
  startedAt: 3,
  finishedAt: 10,
  queueWaitMillis: 3,
  runMillis: 7,
  attempts,
  exit
})

const count = (metric: Metric.Counter<number>) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, labels)), (state) => Number(state.count))

describe("TaskMetrics", () => {
  it.effect("counts submissions and each outcome under the task's labels", () =>
    Effect.gen(function*() {
      yield* TaskMetrics.recordSubmitted(labels)
      yield* TaskMetrics.recordSubmitted(labels)
      yield* TaskMetrics.recordResult(result(Exit.succeed(1)))
      yield* TaskMetrics.recordResult(result(Exit.fail("boom"), 3))
      yield* TaskMetrics.recordResult(
        result(Exit.fail(new TaskTimeout({ taskId: "t", taskName: "resize", timeoutMillis: 5 })), 2)
      )
      yield* TaskMetrics.recordResult(
        result(Exit.fail(new TaskCancelled({ taskId: "t", taskName: "resize", reason: "x" })))
      )
      yield* TaskMetrics.recordResult(result(Exit.interrupt(1)))
      assert.strictEqual(yield* count(TaskMetrics.submitted), 2)
      assert.strictEqual(yield* count(TaskMetrics.succeeded), 1)
      assert.strictEqual(yield* count(TaskMetrics.failed), 2)
      assert.strictEqual(yield* count(TaskMetrics.timedOut), 1)
      assert.strictEqual(yield* count(TaskMetrics.cancelled), 2)
      // Attempts beyond the first: 2 from the three-attempt failure, 1 from the two-attempt timeout.
      assert.strictEqual(yield* count(TaskMetrics.retried), 3)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("records queue wait and run time in the histograms", () =>
    Effect.gen(function*() {
      yield* TaskMetrics.recordResult(result(Exit.succeed(1)))
      const wait = yield* Metric.value(Metric.withAttributes(TaskMetrics.queueWait, labels))
      const run = yield* Metric.value(Metric.withAttributes(TaskMetrics.runTime, labels))
      // In seconds: the result says 3 ms queued and 7 ms run.
      assert.strictEqual(wait.count, 1)
      assert.strictEqual(wait.sum, 0.003)
      assert.strictEqual(run.sum, 0.007)
      assert.deepStrictEqual(wait.buckets.find(([bound]) => bound === 0.005), [0.005, 1])
      assert.deepStrictEqual(wait.buckets.find(([bound]) => bound === 0.001), [0.001, 0])
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("series are kept apart by label", () =>
    Effect.gen(function*() {
      yield* TaskMetrics.recordSubmitted(labels)
      yield* TaskMetrics.recordSubmitted({ ...labels, priority: "low" })
      assert.strictEqual(yield* count(TaskMetrics.submitted), 1)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
