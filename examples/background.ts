// The background pool: submit tasks and get handles back at once, cancel one, poll another, then shut down
// gracefully (drain with a deadline). Nothing is lost: every handle resolves, with its value or with a typed
// `TaskCancelled` (cancelled by its handle, or still running when the deadline passed).
import { Cause, Effect, Exit, Option } from "effect"
import { Orchestrator, Task } from "effect-orchestrator"
import type { BackgroundQueue, TaskResult } from "effect-orchestrator"
import type { Example } from "./example.ts"
import { bold, count, dim, line, ms, table, timed } from "./terminal.ts"
import { CountPrimes, Fib } from "./workers/tasks.ts"

const outcome = (result: TaskResult.TaskResult<unknown, unknown>): string => {
  if (Exit.isSuccess(result.exit)) return `ok: ${String(result.exit.value)}`
  const error = Cause.squash(result.exit.cause) as { _tag?: string; reason?: string; message?: string }
  return error._tag === "TaskCancelled" ? `TaskCancelled (${error.reason})` : `failed: ${error.message}`
}

export const example: Example = {
  name: "background",
  summary: "submit to the background pool, cancel one, poll another, drain on shutdown: nothing is lost",
  program: ({ small }) =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const scale = small ? 1 : 4
      const deadline = 300 * scale
      const sendEmail = (to: string, millis: number) =>
        Task.make(Effect.sleep(`${millis * scale} millis`).pipe(Effect.as(`sent to ${to}`)), { name: `email ${to}` })

      const tasks: Array<Task.Task<unknown, unknown>> = [
        orchestrator.workerTask(CountPrimes, { from: 0, to: 200_000 * scale }, { name: "count primes" }),
        orchestrator.workerTask(Fib, 27, { name: "fib(27)", priority: "high" }),
        sendEmail("ada", 20),
        sendEmail("grace", 40),
        Task.make(Effect.sleep("1 hour").pipe(Effect.as("exported")), { name: "export (1 hour)", priority: "low" }),
        sendEmail("linus", 60),
        Task.make(Effect.sleep("10 seconds").pipe(Effect.as("cleaned")), { name: "cleanup (10 s)", priority: "low" })
      ]
      const handles: Array<BackgroundQueue.TaskHandle<unknown, unknown>> = []
      for (const task of tasks) handles.push(yield* orchestrator.submit(task))
      const [primes, , , , exportTask] = handles
      yield* line(`submitted ${handles.length} tasks; submit returns a handle at once, the tasks run in the background`)

      const polled = yield* primes!.poll
      yield* line(
        `  poll "count primes": ${
          Option.isNone(polled) ? `not finished (${yield* primes!.status})` : "finished already"
        }`
      )
      const before = yield* exportTask!.status
      yield* exportTask!.cancel
      yield* line(`  cancel "export (1 hour)" while ${before}: ${outcome(yield* exportTask!.result)}`)
      yield* primes!.await
      const done = yield* primes!.poll
      if (Option.isSome(done)) {
        yield* line(`  poll "count primes" again: ${outcome(done.value)}, after ${ms(done.value.runMillis)}`)
      }

      yield* line(`shutdown: drain, with a deadline of ${ms(deadline)}`)
      const pending = yield* Effect.filter(
        handles,
        (handle) => Effect.map(handle.status, (status) => status !== "done")
      )
      const [, drainMillis] = yield* timed(orchestrator.shutdown({ mode: "drain", deadline }))
      const overran = yield* Effect.filter(
        pending,
        (handle) => Effect.map(handle.result, (result) => outcome(result).startsWith("TaskCancelled"))
      )
      yield* line(
        `  returned after ${ms(drainMillis)}: ${pending.length - overran.length} of the ${pending.length} unfinished` +
          ` tasks finished in time, ${overran.length} still running at the deadline ${
            overran.length === 1 ? "was" : "were"
          } cancelled`
      )
      const refused = yield* Effect.flip(orchestrator.submit(sendEmail("late", 1)))
      yield* line(`  a submit after shutdown fails at once with ${refused._tag}`)

      const results = yield* Effect.forEach(handles, (handle) => handle.result)
      yield* table(
        ["task", "priority", "queued", "ran", "outcome"],
        results.map((r) => [r.name, r.priority, ms(r.queueWaitMillis), ms(r.runMillis), outcome(r)])
      )
      const succeeded = results.filter((r) => Exit.isSuccess(r.exit)).length
      const cancelled = results.filter((r) => outcome(r).startsWith("TaskCancelled")).length
      const stats = (yield* orchestrator.stats).background
      yield* line(dim(
        `  background pool: ${stats.completed} completed, ${stats.cancelled} cancelled, ${stats.queued} queued, ${stats.running} running`
      ))
      if (succeeded + cancelled !== handles.length) {
        return yield* Effect.fail(new Error(`${handles.length - succeeded - cancelled} handles failed otherwise`))
      }
      yield* line(bold(
        `  every handle resolved: ${count(handles.length)} of ${count(handles.length)}` +
          ` (${succeeded} succeeded, ${cancelled} cancelled with TaskCancelled)`
      ))
    })
}
