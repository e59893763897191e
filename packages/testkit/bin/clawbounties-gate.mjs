#!/usr/bin/env node
// Runs the gate pack CLI from source through tsx (the workspace ships TypeScript, no build step).
import { register } from "tsx/esm/api"
register()
await import("../src/bin/gate.ts")
