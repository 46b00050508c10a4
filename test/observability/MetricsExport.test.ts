/**
 * A short-lived program under a real OTLP metrics exporter (`effect/observability` `OtlpMetrics`, over an
 * HttpClient that records what it is sent): the exporter's interval is far away, so its only export is the
 * last flush, when its scope closes after the orchestrator's. That export must carry the pool's and the lanes'
 * final values, not lose them with the scope that owned them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { OtlpMetrics, OtlpSerialization } from "effect/observability"
import { Orchestrator, Task } from "../../src/index.ts"

interface DataPoint {
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: { readonly stringValue?: string } }>
  readonly asDouble?: number
  readonly asInt?: number | string
  readonly count?: number
}
interface ExportedMetric {
  readonly name: string
  readonly gauge?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly sum?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly histogram?: { readonly dataPoints: ReadonlyArray<DataPoint> }
}
interface ExportRequest {
  readonly resourceMetrics: ReadonlyArray<{
    readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<ExportedMetric> }>
  }>
}

const collector = () => {
  const exports: Array<ExportRequest> = []
  const client = HttpClient.make((request) => {
    const body = request.body
    if (body._tag === "Uint8Array") exports.push(JSON.parse(new TextDecoder().decode(body.body)))
    return Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 })))
  })
  const layer = OtlpMetrics.layer({
    url: "http://collector.invalid/v1/metrics",
    resource: { serviceName: "metrics-export-test" },
    exportInterval: "1 hour"
  }).pipe(
    Layer.provide(Layer.succeed(HttpClient.HttpClient, client)),
    Layer.provide(OtlpSerialization.layerJson)
  )
  return { exports, layer }
}

/** The value of metric `name` at the data point whose attributes include `attributes`. */
const valueOf = (request: ExportRequest, name: string, attributes: Record<string, string>): number | undefined => {
  const metric = request.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).find((m) =>
    m.name === name
  )
  const points = metric?.gauge?.dataPoints ?? metric?.sum?.dataPoints ?? metric?.histogram?.dataPoints ?? []
  const point = points.find((p) =>
    Object.entries(attributes).every(([key, value]) =>
      p.attributes.some((a) => a.key === key && a.value.stringValue === value)
    )
  )
  if (point === undefined) return undefined
  return point.count ?? point.asDouble ?? Number(point.asInt)
}

describe("metrics at scope close", () => {
  it.live("an OTLP exporter's last flush, after the orchestrator closed, has the pool's and lanes' final values", () =>
    Effect.gen(function*() {
      const { exports, layer } = collector()
      yield* Effect.gen(function*() {
        const orchestrator = yield* Orchestrator.Orchestrator
        for (const n of [1, 2, 3]) yield* orchestrator.offloadFunction((x: number) => x * 2, [n], { name: "double" })
        yield* orchestrator.run(Task.make(Effect.succeed("io"), { name: "io-task" }))
      }).pipe(
        Effect.provide(
          Orchestrator.layer({ pool: { minWorkers: 1, maxWorkers: 1 }, scheduler: { permits: 5 } })
        ),
        Effect.provide(layer)
      )
      assert.strictEqual(exports.length, 1, "one export: the last flush")
      const last = exports[0]!
      // the pool (`cpu`): its counters, its histograms, and its gauges at the values they had at close
      assert.strictEqual(valueOf(last, "orchestrator_pool_tasks_completed_total", { pool: "cpu" }), 3)
      assert.strictEqual(valueOf(last, "orchestrator_pool_run_time_seconds", { pool: "cpu" }), 3)
      assert.strictEqual(valueOf(last, "orchestrator_pool_workers", { pool: "cpu" }), 0)
      assert.strictEqual(valueOf(last, "orchestrator_pool_in_flight", { pool: "cpu" }), 0)
      const utilisation = valueOf(last, "orchestrator_pool_utilisation", { pool: "cpu" })
      assert.isDefined(utilisation)
      assert.isAbove(utilisation!, 0)
      // the lanes: the io lane's scheduler and the cpu lane read from the pool's queue
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_permits", { lane: "io" }), 5)
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_admitted_total", { lane: "io" }), 1)
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_admitted_total", { lane: "cpu" }), 3)
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_running", { lane: "cpu" }), 0)
      // without a lane the cpu "permits" are what the pool may have in flight: 1 worker × pipelineDepth 64
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_permits", { lane: "cpu" }), 64)
      assert.strictEqual(valueOf(last, "orchestrator_scheduler_queued", { lane: "cpu", priority: "normal" }), 0)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
