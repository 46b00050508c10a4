/**
 * A worker's answer to a call, turned into the caller's `Exit`: the success and the typed failure decoded with
 * the task's schemas, defects rebuilt as errors with their message and stack, and the library's own outcomes
 * (interrupted inside the worker, payload rejected there) as their tagged errors. An answer that does not match
 * its schema is a defect: the worker and this side disagree about the task, which is a bug, not an outcome.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import { PayloadInvalid, TaskCancelled } from "../../domain/OrchestratorError.ts"
import { OP_DEFECT, OP_FAILURE, OP_INTERRUPTED, OP_INVALID, OP_SUCCESS } from "../wire/Protocol.ts"
import type { CodecError } from "../wire/Protocol.ts"
import { decodeDefect } from "../wire/WireCodec.ts"
import type { Call } from "./Call.ts"
import { taskIdOf } from "./Call.ts"

const mismatch = (call: Call, what: string, error: unknown): Exit.Exit<never> =>
  Exit.die(
    new TypeError(
      `the worker ${what} "${call.name}" with ${
        what === "answered" ? "a value that does not match its success" : "an error that does not match its error"
      } schema: ${(error as CodecError).detail}`
    )
  )

export const decode = (call: Call, op: number, value: unknown): Exit.Exit<any, any> => {
  switch (op) {
    case OP_SUCCESS: {
      if (call.success === undefined) return Exit.succeed(value)
      try {
        return Exit.succeed(call.success.decode(value))
      } catch (error) {
        return mismatch(call, "answered", error)
      }
    }
    case OP_FAILURE: {
      if (call.error === undefined) return Exit.die(decodeDefect(value))
      try {
        return Exit.fail(call.error.decode(value))
      } catch (error) {
        return mismatch(call, "failed", error)
      }
    }
    case OP_DEFECT:
      return Exit.die(decodeDefect(value))
    case OP_INTERRUPTED:
      return Exit.fail(
        new TaskCancelled({ taskId: taskIdOf(call), taskName: call.name, reason: "interrupted inside the worker" })
      )
    case OP_INVALID: {
      const { detail, reason } = value as { reason: "schema" | "not-self-contained"; detail: string }
      return Exit.fail(new PayloadInvalid({ taskName: call.name, reason, detail }))
    }
    default:
      return Exit.die(new Error(`unknown answer ${op} from the worker for "${call.name}"`))
  }
}
