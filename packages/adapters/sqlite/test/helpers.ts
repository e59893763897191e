import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A temporary directory, removed when the test's scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sqlite-client-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)
