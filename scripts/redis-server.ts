// A real redis-server for the distributed specs, the distributed example and the benchmarks, which all import it
// from here (not part of the package: it publishes src and dist only). Started on a free loopback port with a
// temporary directory, no persistence, and stopped at the end. When `redis-server` is missing it is
// installed with Debian's apt-get where that is possible (root), saying so; otherwise this fails at once and
// names the command to run. It never skips.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** Where executables are looked for: PATH, then where Debian's packages put them. */
export interface Lookup {
  readonly dirs: ReadonlyArray<string>
  readonly isRoot: boolean
}

const systemLookup = (): Lookup => ({
  dirs: (process.env["PATH"] ?? "").split(path.delimiter).concat(["/usr/bin", "/usr/sbin", "/usr/local/bin"]),
  isRoot: typeof process.getuid === "function" && process.getuid() === 0
})

const findOnPath = (name: string, dirs: ReadonlyArray<string>): string | undefined => {
  for (const dir of dirs) {
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

let installed: string | undefined

/** The path of `redis-server`, installing Debian's package first when it is missing and this process may. */
export const redisServerPath = (given?: Lookup): string => {
  // The answer for this machine is kept; a given lookup (a spec's) is never served from it.
  if (given === undefined && installed !== undefined) return installed
  const lookup = given ?? systemLookup()
  const found = findOnPath("redis-server", lookup.dirs)
  if (found !== undefined) return given === undefined ? (installed = found) : found
  const aptGet = findOnPath("apt-get", lookup.dirs)
  if (aptGet === undefined || !lookup.isRoot) {
    throw new Error(
      "redis-server is not installed and cannot be installed from here (needs root and apt-get). " +
        "Install it with: sudo apt-get install -y redis-server"
    )
  }
  console.error("redis-server is missing: installing Debian's package (apt-get install -y redis-server)")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  spawnSync(aptGet, ["update", "-qq"], { stdio: "inherit", env })
  execFileSync(aptGet, ["install", "-y", "-qq", "redis-server"], { stdio: "inherit", env })
  const after = findOnPath("redis-server", lookup.dirs)
  if (after === undefined) throw new Error("apt-get install -y redis-server ran, but redis-server is still not found")
  return given === undefined ? (installed = after) : after
}

/** A free TCP port on loopback (picked by the OS, then released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const send = (port: number, command: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let reply = ""
    socket.setEncoding("utf8")
    socket.once("error", reject)
    socket.on("data", (chunk: string) => {
      reply += chunk
      if (reply.endsWith("\r\n")) {
        socket.end()
        resolve(reply.trim())
      }
    })
    socket.on("close", () => resolve(reply.trim()))
    socket.write(command + "\r\n")
  })

export interface RedisServer {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly dir: string
  /** Stops Redis, keeping its data (`SHUTDOWN SAVE`), and starts it again on the same port and directory. */
  readonly restart: (downMillis?: number, onDown?: () => void) => Promise<void>
  /** Stops Redis (without saving) and removes its directory. */
  readonly stop: () => Promise<void>
}

const waitReady = async (port: number, child: ChildProcess, log: () => string): Promise<void> => {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log()}`)
    const reply = await send(port, "PING").catch(() => "")
    if (reply === "+PONG") return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 15 s:\n${log()}`)
}

/** Starts a redis-server for one spec file. */
export const startRedis = async (): Promise<RedisServer> => {
  const bin = redisServerPath()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orchestrator-redis-"))
  const port = await freePort()
  let output = ""
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--maxmemory-policy",
    "noeviction",
    "--daemonize",
    "no"
  ]
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-4_000)))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-4_000)))
    await waitReady(port, child, () => output)
    return child
  }
  let child = await launch()
  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => c.once("exit", () => resolve()))
  return {
    host: "127.0.0.1",
    port,
    dir,
    restart: async (downMillis = 500, onDown) => {
      const gone = exited(child)
      await send(port, "SHUTDOWN SAVE").catch(() => "")
      await gone
      onDown?.()
      await new Promise((resolve) => setTimeout(resolve, downMillis))
      child = await launch()
    },
    stop: async () => {
      const gone = exited(child)
      await send(port, "SHUTDOWN NOSAVE").catch(() => "")
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
      await gone
      clearTimeout(timer)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
