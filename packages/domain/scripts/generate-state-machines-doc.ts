/** Writes docs/state-machines.md from the state-machine tables (`npm run docs` at the repository root). */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { render } from "../src/StateMachineDoc.js"

const target = fileURLToPath(new URL("../../../docs/state-machines.md", import.meta.url))
writeFileSync(target, render())
console.log(`wrote ${target}`)
