import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Worker tests boot real threads and processes; a 2-core CI machine needs headroom.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
