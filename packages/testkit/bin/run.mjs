// Runs one of the testkit's command-line entries. An installed package runs its compiled JavaScript.
// In this repository's checkout (this file is not under node_modules) it runs the TypeScript
// sources through tsx, with our packages resolved to their sources as the tests resolve them, so a
// checkout needs no build step and never runs a stale one.
import { register } from "node:module"
import { sep } from "node:path"
import { fileURLToPath } from "node:url"

export const run = async (name) => {
  if (fileURLToPath(import.meta.url).includes(`${sep}node_modules${sep}`)) return import(`../dist/src/bin/${name}.js`)
  const tsx = await import("tsx/esm/api")
  tsx.register()
  register("./source-condition.mjs", import.meta.url)
  return import(`../src/bin/${name}.ts`)
}
