import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// One vitest project per package, so `vitest run --project ledger` runs one package's tests.
const packages = [
  "domain", "fees", "verify", "ledger", "marketplace",
  "adapters/sqlite", "adapters/postgres", "server", "testkit"
]

// Our packages resolve to their TypeScript sources under this condition (see each package.json's
// `exports`), so tests run the code as it is, with no build step and no stale `dist/`.
const conditions = ["@clawbounties/source", ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      ...packages.map((dir) => ({
        extends: true,
        test: {
          name: dir.replace("adapters/", "adapter-"),
          include: [`packages/${dir}/test/**/*.test.ts`],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      })),
      // The packages as published (test/Packages.test.ts).
      { extends: true, test: { name: "packages", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 240_000 } }
    ]
  }
})
