#!/usr/bin/env node
import { run } from "./run.mjs"

await run(import.meta.url, "main")
