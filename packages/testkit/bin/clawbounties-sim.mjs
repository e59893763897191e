#!/usr/bin/env node
// Runs the simulation CLI from source through tsx (the workspace ships TypeScript, no build step).
import { register } from "tsx/esm/api"
register()
await import("../src/bin/sim.ts")
