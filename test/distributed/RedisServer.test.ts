// The redis-server starter shared by the distributed specs, the example and the benchmarks: it finds the binary,
// installs Debian's package when it is missing and it may (root with apt-get), and otherwise fails naming the
// command to run. It never skips. Checked with fake executables in a temporary directory, so nothing is installed.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { redisServerPath } from "../../scripts/redis-server.ts"

const made: Array<string> = []
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

const dirWith = (files: Record<string, string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-lookup-"))
  made.push(dir)
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body, { mode: 0o755 })
  return dir
}

// An apt-get that "installs" redis-server next to itself, and logs what it was asked.
const fakeAptGet = `#!/bin/sh
here=$(dirname "$0")
echo "$@" >> "$here/apt.log"
if [ "$1" = "install" ]; then printf '#!/bin/sh\\n' > "$here/redis-server"; chmod 755 "$here/redis-server"; fi
`

describe("redis-server starter", () => {
  it("finds redis-server on the given path", () => {
    const dir = dirWith({ "redis-server": "#!/bin/sh\n" })
    assert.strictEqual(redisServerPath({ dirs: [dir], isRoot: false }), path.join(dir, "redis-server"))
  })

  it("missing, not root: fails at once naming the command to run", () => {
    for (const dir of [dirWith({}), dirWith({ "apt-get": fakeAptGet })]) {
      assert.throws(() => redisServerPath({ dirs: [dir], isRoot: false }), /sudo apt-get install -y redis-server/)
      assert.isFalse(fs.existsSync(path.join(dir, "apt.log")), "apt-get not run without root")
    }
  })

  it("missing, root with apt-get: installs Debian's package, then uses it", () => {
    const dir = dirWith({ "apt-get": fakeAptGet })
    assert.strictEqual(redisServerPath({ dirs: [dir], isRoot: true }), path.join(dir, "redis-server"))
    assert.include(fs.readFileSync(path.join(dir, "apt.log"), "utf8"), "install -y -qq redis-server")
  })

  it("missing, root, without apt-get: fails naming the command", () => {
    assert.throws(() => redisServerPath({ dirs: [dirWith({})], isRoot: true }), /apt-get install -y redis-server/)
  })
})
