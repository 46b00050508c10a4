import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Worker tests boot real threads and processes; a 2-core CI machine needs headroom.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The library logs crashes, boot failures and drains (warnings on purpose in the crash specs): shown for
    // failing tests, where they help, and not for passing ones.
    silent: "passed-only"
  }
})
