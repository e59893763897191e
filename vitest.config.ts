import { defineConfig } from "vitest/config"

// One vitest project per package, so `vitest run --project ledger` runs one package's tests.
const packages = [
  "domain", "fees", "verify", "ledger", "marketplace",
  "adapters/sqlite", "adapters/postgres", "server", "testkit"
]

export default defineConfig({
  test: {
    projects: packages.map((dir) => ({
      test: {
        name: dir.replace("adapters/", "adapter-"),
        include: [`packages/${dir}/test/**/*.test.ts`],
        testTimeout: 60_000,
        hookTimeout: 60_000
      }
    }))
  }
})
