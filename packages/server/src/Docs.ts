/**
 * `GET /docs`: a self-contained API reference page rendered on the server from the OpenAPI
 * document (no scripts, no CDN, no network): operations by tag with their auth, parameters, request
 * and response schemas and error codes; then the schemas; then the error catalogue.
 */

type JsonObject = Record<string, unknown>

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const anchor = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, "-")

/** A schema as indented JSON, with `$ref`s turned into links to the schema's section. */
const schemaHtml = (schema: unknown): string =>
  escape(JSON.stringify(schema, null, 2)).replace(
    /&quot;\$ref&quot;: &quot;#\/components\/schemas\/([^&]+)&quot;/g,
    (_, name: string) => `&quot;$ref&quot;: <a href="#schema-${anchor(name)}">${escape(name)}</a>`
  )

const methods = ["get", "post", "put", "patch", "delete"] as const

const style = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fbfbfd}
main{max-width:1000px;margin:0 auto;padding:24px}
nav{background:#fff;border:1px solid #e3e6ee;border-radius:8px;padding:12px 20px;margin:16px 0}
nav ul{margin:4px 0;padding-left:18px}
h1{margin-bottom:4px}h2{border-bottom:2px solid #e3e6ee;padding-bottom:4px;margin-top:40px}
section.op{background:#fff;border:1px solid #e3e6ee;border-radius:8px;padding:12px 20px;margin:16px 0}
.method{display:inline-block;min-width:56px;text-align:center;font-weight:700;border-radius:4px;padding:2px 6px;color:#fff;margin-right:8px}
.get{background:#2f7d4b}.post{background:#2d5fb4}.patch{background:#a2621c}.put{background:#7a4db0}.delete{background:#b33636}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre{background:#f4f5f9;border-radius:6px;padding:10px;overflow:auto;max-height:420px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #e3e6ee;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f5f9}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
`

/** The reference page for `document`. */
export const render = (document: JsonObject): string => {
  const info = document.info as { title: string; version: string; description: string }
  const paths = document.paths as Record<string, Record<string, JsonObject>>
  const components = document.components as { schemas: Record<string, unknown>; responses?: Record<string, JsonObject> }
  // Error responses are shared: operations refer to them in `components.responses`.
  const responseOf = (response: JsonObject): JsonObject =>
    typeof response.$ref === "string" ? components.responses?.[response.$ref.slice("#/components/responses/".length)] ?? response : response
  const catalogue = document["x-error-catalogue"] as ReadonlyArray<{ code: string; status: number; summary: string }>

  const operations: Array<{ tag: string; method: string; path: string; op: JsonObject }> = []
  for (const [path, byMethod] of Object.entries(paths)) {
    for (const method of methods) {
      const op = byMethod[method]
      if (op !== undefined) operations.push({ tag: (op.tags as Array<string>)[0] ?? "Other", method, path, op })
    }
  }
  const tags = Array.from(new Set(operations.map((o) => o.tag)))

  const operationHtml = ({ method, path, op }: (typeof operations)[number]) => {
    const parameters = (op.parameters as Array<JsonObject> | undefined) ?? []
    const responses = op.responses as Record<string, JsonObject>
    const body = op.requestBody as { content: Record<string, { schema: unknown }> } | undefined
    const params = parameters.length === 0 ? "" : `
      <table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Schema</th></tr>
      ${parameters.map((p) => `<tr><td><code>${escape(String(p.name))}</code></td><td>${escape(String(p.in))}</td><td>${p.required ? "yes" : "no"}</td><td><code>${schemaHtml(p.schema)}</code></td></tr>`).join("")}
      </table>`
    const requestBody = body === undefined ? "" :
      `<details><summary>Request body (application/json)</summary><pre>${schemaHtml(body.content["application/json"]!.schema)}</pre></details>`
    const rows = Object.entries(responses).map(([status, declared]) => {
      const response = responseOf(declared)
      const codes = response["x-error-codes"] as Array<string> | undefined
      return `<tr><td>${escape(status)}</td><td>${codes === undefined
        ? `${escape(String(response.description))}<details><summary>Schema</summary><pre>${schemaHtml((response.content as Record<string, { schema: unknown }>)["application/json"]!.schema)}</pre></details>`
        : codes.map((code) => `<a href="#error-${anchor(code)}"><code>${escape(code)}</code></a>`).join(" ")}</td></tr>`
    }).join("")
    return `
    <section class="op" id="op-${anchor(String(op.operationId))}">
      <h3><span class="method ${method}">${method.toUpperCase()}</span><code>${escape(path)}</code></h3>
      <p>${escape(String(op.summary))}</p>
      ${String(op.description ?? "").split("\n\n").map((p) => `<p>${escape(p)}</p>`).join("")}
      ${params}
      ${requestBody}
      <table><tr><th>Status</th><th>Response or error codes</th></tr>${rows}</table>
    </section>`
  }

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)} ${escape(info.version)}</title><style>${style}</style></head>
<body><main>
<h1>${escape(info.title)}</h1><p>Version ${escape(info.version)} · OpenAPI ${escape(String(document.openapi))} · <a href="/openapi.json">openapi.json</a></p>
<p>${escape(info.description)}</p>
<nav><strong>Contents</strong><ul>
${tags.map((tag) => `<li><a href="#tag-${anchor(tag)}">${escape(tag)}</a><ul>${operations.filter((o) => o.tag === tag)
    .map((o) => `<li><a href="#op-${anchor(String(o.op.operationId))}"><code>${o.method.toUpperCase()} ${escape(o.path)}</code></a></li>`).join("")}</ul></li>`).join("")}
<li><a href="#schemas">Schemas</a></li><li><a href="#errors">Error catalogue</a></li>
</ul></nav>
${tags.map((tag) => `<h2 id="tag-${anchor(tag)}">${escape(tag)}</h2>${operations.filter((o) => o.tag === tag).map(operationHtml).join("")}`).join("")}
<h2 id="schemas">Schemas</h2>
${Object.entries(components.schemas).sort(([a], [b]) => a.localeCompare(b)).map(([name, schema]) =>
    `<section class="op" id="schema-${anchor(name)}"><h3><code>${escape(name)}</code></h3><pre>${schemaHtml(schema)}</pre></section>`).join("")}
<h2 id="errors">Error catalogue</h2>
<p>Every error body is <code>{ "error": CODE, "message": ..., "details": {...} }</code>.</p>
<table><tr><th>Code</th><th>Status</th><th>Meaning</th></tr>
${catalogue.map((row) => `<tr id="error-${anchor(row.code)}"><td><code>${escape(row.code)}</code></td><td>${row.status}</td><td>${escape(row.summary)}</td></tr>`).join("")}
</table>
</main></body></html>`
}
