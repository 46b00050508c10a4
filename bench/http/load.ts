// Load process of the http benchmark, apart from the server so that the two do not share an event loop:
// autocannon on `GET /work` (8 connections) and `GET /health` (1 connection) at once, first a warm-up, then
// the timed window. Sends "window" over IPC when the window starts, then the results of both endpoints.
import autocannon from "autocannon"

const [port, seconds, warmSeconds] = process.argv.slice(2).map(Number) as [number, number, number]

const load = (path: string, connections: number, duration: number): Promise<autocannon.Result> =>
  autocannon({ url: `http://127.0.0.1:${port}${path}`, connections, duration, timeout: 10 })

const both = (duration: number) => Promise.all([load("/work", 8, duration), load("/health", 1, duration)])

await both(warmSeconds)
process.send?.("window")
const [work, health] = await both(seconds)
const summary = (r: autocannon.Result) => ({
  requests: r.requests.total,
  reqPerSec: r.requests.total / seconds,
  p50: r.latency.p50,
  p99: r.latency.p99,
  errors: r.errors + r.timeouts + r.non2xx
})
process.send?.({ work: summary(work), health: summary(health) }, () => process.exit(0))
