// Consumer processes for the distributed specs (and the example): each runs `fixtures/consumer.ts` on this
// Node, and is killed by the scope that started it.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./fixtures/consumer.ts", import.meta.url))

export interface ConsumerProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** Everything it printed. */
  readonly output: () => string
  /** Resolves with the exit code (or the signal) once it has exited. */
  readonly exited: Promise<number | string>
}

export const spawnConsumer = (env: Record<string, string | number>): Promise<ConsumerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const exited = new Promise<number | string>((done) =>
      child.once("exit", (code, signal) => done(code ?? signal ?? "unknown"))
    )
    const timer = setTimeout(() => reject(new Error(`consumer not ready within 30 s:\n${output}`)), 30_000)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
      if (output.includes("ready\n")) {
        clearTimeout(timer)
        resolve({ child, pid: child.pid!, output: () => output, exited })
      }
    })
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`consumer exited with ${code} before it was ready:\n${output}`))
    })
  })

/** Kills a consumer that is still running. */
export const killConsumer = async (consumer: ConsumerProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
  if (consumer.child.exitCode === null && consumer.child.signalCode === null) consumer.child.kill(signal)
  await consumer.exited
}
