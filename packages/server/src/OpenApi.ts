/**
 * The OpenAPI 3.1 document, generated from the route table: paths, parameters and bodies from the
 * Schemas the routes decode with (their encoded, wire side), responses from the Schemas they encode
 * with, and under each operation every error code it can return, grouped by HTTP status.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Requests } from "@clawbounties/marketplace"
import { Either, JSONSchema, Schema } from "effect"
import { errorsOf, MAX_PATH_PARAM_LENGTH, pathParams, type Route } from "./Route.js"
import * as Schemas from "./Schemas.js"

export const DOCUMENT_PATH = "/openapi.json"
export const DOCS_PATH = "/docs"
export const API_VERSION = "0.1.0"

const COMPONENTS = "#/components/schemas/"

type JsonObject = Record<string, unknown>

/**
 * Drops the `$id` Effect gives every `unknown`, `any` and `object` schema ("/schemas/unknown"): one
 * identifier on many subschemas is invalid JSON Schema, and validators refuse the whole document.
 */
const withoutEffectIds = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withoutEffectIds)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(
      Object.entries(value)
        .filter(([key, item]) => !(key === "$id" && typeof item === "string" && item.startsWith("/schemas/")))
        .map(([key, item]) => [key, withoutEffectIds(item)])
    )
    : value

const statusText: Record<number, string> = {
  200: "OK", 201: "Created", 400: "Bad request", 401: "Unauthorized", 402: "Payment required", 403: "Forbidden",
  404: "Not found", 405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Payload too large",
  415: "Unsupported media type", 422: "Unprocessable", 423: "Locked", 429: "Too many requests",
  500: "Internal error", 502: "Bad gateway", 503: "Service unavailable"
}

/** What each group of operations is for: generators turn it into the documentation of a client class. */
const tagDescriptions: Record<string, string> = {
  Health: "Liveness and readiness of the server and its database.",
  Identities: "Registration challenges, requester registration and bearer tokens.",
  Workers: "Worker registration, profiles and the worker directory.",
  Bounties: "Posting bounties and moving them through accept, submit, approve, reject and cancel.",
  Submissions: "Submitted work and its verification.",
  Money: "Balances, account history, escrows and fee quotes.",
  Verification: "Checking signed envelopes, proof bundles and commit proofs without storing anything.",
  Events: "Each party's event feed: poll for what happened, then acknowledge it.",
  Disputes: "Disputes opened by rejections.",
  Operators: "Operator tools: dispute resolution, manual credits and debits, reconciliation, audit and the deadline sweep."
}

const roleText = (route: Route) =>
  route.auth === "public" ? "No token needed." : `Bearer token of role: ${route.auth.join(", ")}.`

/** Builds the document; `definitions` collects named schemas into `components.schemas`. */
export const document = (routes: ReadonlyArray<Route>): JsonObject => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const schemaOf = (schema: Schema.Schema.Any, topLevel: "keep" | "skip" = "keep") =>
    JSONSchema.fromAST(schema.ast, {
      definitions,
      definitionPath: COMPONENTS,
      target: "openApi3.1",
      topLevelReferenceStrategy: topLevel
    }) as unknown as JsonObject

  /**
   * A route's body. On an idempotent route the `Idempotency-Key` header stands in for the body's
   * `idempotency_key` (`Http.withIdempotencyKey`), so the body need not carry it even where the
   * command requires a key: a validator reading the document must accept a key sent as the header.
   */
  const bodySchemaOf = (route: Route): JsonObject => {
    const schema = schemaOf(route.body!)
    if (!route.idempotent) return schema
    const ref = typeof schema.$ref === "string" ? (definitions[schema.$ref.slice(COMPONENTS.length)] as unknown as JsonObject | undefined) : undefined
    const object = ref ?? schema
    const required = object.required
    if (!Array.isArray(required) || !required.includes("idempotency_key")) return schema
    return { ...object, required: required.filter((name) => name !== "idempotency_key") }
  }

  /**
   * The edge reads a missing body as `{}` (`Http.parseJson`), so where `{}` is a valid body (accept,
   * cancel, rotate) the body is optional: a generated client need not make callers pass one.
   */
  const requestBodyOf = (route: Route): JsonObject => ({
    required: Either.isLeft(Schema.decodeUnknownEither(route.body!)({})),
    content: { "application/json": { schema: bodySchemaOf(route) } }
  })

  const errorRef = schemaOf(Schemas.ErrorBody)
  const paths: Record<string, Record<string, JsonObject>> = {}

  for (const route of routes) {
    const parameters: Array<JsonObject> = pathParams(route.path).map((name) => ({
      name,
      in: "path",
      required: true,
      schema: { type: "string", maxLength: MAX_PATH_PARAM_LENGTH }
    }))
    if (route.query !== undefined) {
      // The decoded side: a query string is text on the wire anyway, and a client generator writes
      // an integer or boolean parameter as the digits or `true`/`false` the server reads.
      const query = schemaOf(Schema.typeSchema(route.query), "skip")
      const required = new Set((query.required as ReadonlyArray<string> | undefined) ?? [])
      for (const [name, schema] of Object.entries((query.properties as Record<string, JsonObject> | undefined) ?? {})) {
        parameters.push({ name, in: "query", required: required.has(name), schema })
      }
    }
    if (route.idempotent) {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description: "Used when the body has no idempotency_key; both present and different, or the header sent twice, is INVALID_REQUEST.",
        schema: schemaOf(Requests.IdempotencyKey, "skip")
      })
    }

    const responses: Record<string, JsonObject> = {
      [String(route.status)]: {
        description: statusText[route.status]!,
        content: { "application/json": { schema: schemaOf(route.response) } }
      }
    }
    const byStatus = new Map<number, Array<{ code: string; summary: string }>>()
    for (const tag of errorsOf(route)) {
      const entry = ErrorCatalogue.entries[tag]
      const list = byStatus.get(entry.status) ?? []
      if (!list.some((e) => e.code === entry.code)) list.push({ code: entry.code, summary: entry.summary })
      byStatus.set(entry.status, list)
    }
    for (const [status, entries] of [...byStatus].sort(([a], [b]) => a - b)) {
      const codes = entries.map((e) => e.code).sort()
      responses[String(status)] = {
        description: entries.map((e) => `${e.code}: ${e.summary}`).join(" "),
        "x-error-codes": codes,
        content: {
          "application/json": {
            schema: { allOf: [errorRef, { type: "object", properties: { error: { type: "string", enum: codes } } }] }
          }
        }
      }
    }

    // A route's rate limit says when to come back (`RateLimits`).
    if (responses["429"] !== undefined) {
      responses["429"].headers = { "Retry-After": { description: "Whole seconds until the caller's next request of this class passes.", schema: { type: "integer", minimum: 1 } } }
    }

    const operation: JsonObject = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: [route.description, roleText(route)].filter((s) => s !== undefined).join("\n\n"),
      "x-roles": route.auth === "public" ? [] : route.auth,
      security: route.auth === "public" ? [] : [{ bearerAuth: [] }],
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(route.body === undefined ? {} : { requestBody: requestBodyOf(route) }),
      responses
    }
    const byMethod = (paths[route.path] ??= {})
    byMethod[route.method.toLowerCase()] = operation
  }

  const tags = Array.from(new Set(routes.map((route) => route.tag)))
    .map((name) => (name in tagDescriptions ? { name, description: tagDescriptions[name] } : { name }))
  return {
    openapi: "3.1.0",
    info: {
      title: "clawbounties API",
      version: API_VERSION,
      // As `package.json` says (an SPDX identifier).
      license: { name: "MIT", identifier: "MIT" },
      description:
        "An agent-labor marketplace: bounties with escrow, signed proof of work, fees, a double-entry ledger. " +
        "JSON in snake_case; money as digit strings of minor units. Every error is `{ error, message, details }` " +
        "with a stable code from the catalogue below."
    },
    servers: [{ url: "/" }],
    tags,
    paths: withoutEffectIds(paths),
    components: {
      schemas: withoutEffectIds(definitions),
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "A token from registration or rotation, or the operator token." } }
    },
    "x-error-catalogue": ErrorCatalogue.table.map((row) => ({ code: row.code, status: row.status, summary: row.summary }))
  }
}
