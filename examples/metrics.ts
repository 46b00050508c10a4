// Task metrics by task, kind and priority, beside the pool's and the lanes' own, in Prometheus' text format
// (`orchestrator.prometheus`, ready to serve on a /metrics endpoint).
import { Effect } from "effect"
import { Orchestrator, Task } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { bold, dim, line } from "./terminal.ts"
import { Fib } from "./workers/tasks.ts"

function flush(millis: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)
  return millis
}

const taskNames = ["thumbnail", "fetch-profile", "fsync"]

/** A few gauges and counters of the pools and lanes, to show beside the task metrics. */
const machineryFamilies = [
  "orchestrator_pool_workers",
  "orchestrator_pool_utilisation",
  "orchestrator_scheduler_admitted_total"
]

const familyOf = (sample: string): string => sample.split(/[{ ]/, 1)[0]!.replace(/_(bucket|sum|count)$/, "")

export const example: Example = {
  name: "metrics",
  summary: "run some tasks, then print the orchestrator_* lines of the Prometheus text",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const results = yield* orchestrator.runAll([
        ...[22, 23, 24].map((n) => orchestrator.workerTask(Fib, n, { name: "thumbnail", priority: "high" })),
        Task.make(Effect.sleep("5 millis"), { name: "fetch-profile" }),
        Task.make(Effect.sleep("8 millis"), { name: "fetch-profile" }),
        Task.make(Effect.fail({ _tag: "NotFound", status: 404 }), { name: "fetch-profile" }),
        orchestrator.blockingTask(flush, [10], { name: "fsync", priority: "low" })
      ])
      yield* line(
        `ran ${results.length} tasks: thumbnail ×3 (cpu, high), fetch-profile ×3 (io, one fails), fsync (blocking, low)`
      )

      const text = yield* orchestrator.prometheus
      const lines = text.split("\n").filter((l) => l.length > 0)
      const samples = lines.filter((l) => l.startsWith("orchestrator_"))
      const families = [...new Set(samples.map(familyOf))]
      const ours = (sample: string) =>
        taskNames.some((name) => sample.includes(`task="${name}"`)) && sample.startsWith("orchestrator_task")
      // Small: the samples of this example's tasks (histogram buckets left out) and a few of the machinery's.
      // Otherwise: every orchestrator_* line, as a scraper would get them.
      const shown = small
        ? samples.filter((s) =>
          (ours(s) && !s.includes("_bucket{")) ||
          machineryFamilies.includes(familyOf(s))
        )
        : lines.filter((l) => l.startsWith("orchestrator_") || /^# (HELP|TYPE) orchestrator_/.test(l))
      let family = ""
      for (const sample of shown) {
        if (small && familyOf(sample) !== family) {
          family = familyOf(sample)
          const type = lines.find((l) => l.startsWith(`# TYPE ${family} `))
          if (type !== undefined) yield* line(dim(type))
        }
        yield* line(sample)
      }
      yield* line(
        bold(`  ${families.length} orchestrator_* metric families, ${samples.length} samples in all`) +
          (small
            ? dim(" (shown: this example's tasks, histogram buckets left out, and a few pool and lane metrics)")
            : "")
      )
    })
}
