// Runs a package's command-line entry: `run(import.meta.url, "main")` from a file in its bin/.
// Installed (the bin is under node_modules) it runs the compiled JavaScript in dist/src. In this
// repository's checkout it runs the TypeScript sources through tsx, with our packages resolved to
// their sources as the tests resolve them, so a checkout needs no build step and never runs a stale
// one.
import { register } from "node:module"
import { sep } from "node:path"
import { fileURLToPath } from "node:url"

export const run = async (binUrl, module) => {
  if (fileURLToPath(binUrl).includes(`${sep}node_modules${sep}`)) return import(new URL(`../dist/src/${module}.js`, binUrl).href)
  const tsx = await import("tsx/esm/api")
  tsx.register()
  register("./source-condition.mjs", import.meta.url)
  return import(new URL(`../src/${module}.ts`, binUrl).href)
}
