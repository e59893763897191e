#!/usr/bin/env node
import { run } from "@clawbounties/server/bin/run"

await run(import.meta.url, "bin/sim")
