/**
 * The OpenAPI 3.1 document, generated from the route table: paths, parameters and bodies from the
 * Schemas the routes decode with (their encoded, wire side), responses from the Schemas they encode
 * with, and under each operation every error code it can return, grouped by HTTP status.
 *
 * As client generators read it:
 * - request objects are closed (`additionalProperties: false`: the server refuses unknown fields),
 *   response objects open, so that a field the API adds does not break a deployed strict client. A
 *   schema used both ways is two components, the request's named `<Name>Input`;
 * - a union of objects told apart by a literal property (the event feed's `type`) is a `oneOf` with
 *   a discriminator mapping;
 * - the titles and descriptions Effect gives its filters (`maxLength(200)`, "a string at most 200
 *   character(s) long"), which only restate a keyword, are left out: generators make type names of them;
 * - each error response (a status and its codes) is one `components/responses` entry that
 *   operations refer to, not a copy per operation.
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

/** `value` with `transform` applied to every object in it, innermost first. */
const mapObjects = (value: unknown, transform: (object: JsonObject) => JsonObject): unknown =>
  Array.isArray(value)
    ? value.map((item) => mapObjects(item, transform))
    : typeof value === "object" && value !== null
    ? transform(Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapObjects(item, transform)])))
    : value

/** `object` without the keys `drop` picks. */
const without = (object: JsonObject, drop: (key: string, value: unknown) => boolean): JsonObject =>
  Object.fromEntries(Object.entries(object).filter(([key, value]) => !drop(key, value)))

/** What Effect says of each filter, in the keywords beside it: such a description tells nothing more. */
const restatements = (schema: JsonObject): ReadonlyArray<string> => [
  `a string at most ${schema.maxLength} character(s) long`,
  `a string at least ${schema.minLength} character(s) long`,
  `a string matching the pattern ${schema.pattern}`,
  `a number between ${schema.minimum} and ${schema.maximum}`,
  `an array of at most ${schema.maxItems} item(s)`,
  `an array of at least ${schema.minItems} item(s)`,
  ...(schema.exclusiveMinimum === 0 ? ["a positive number"] : []),
  ...(schema.minimum === 0 ? ["a non-negative number"] : []),
  ...(schema.type === "integer" ? ["an integer"] : [])
]

/**
 * Effect's output as the document carries it: without the `$id` Effect gives every `unknown`, `any`
 * and `object` schema ("/schemas/unknown"), since one identifier on many subschemas is invalid JSON
 * Schema and validators refuse the whole document; without titles, which here are only Effect's
 * names of its filters (components carry the names that mean something); and without descriptions
 * that restate a keyword. String-valued only: a property may be named `title` or `description`.
 */
const cleaned = (value: unknown): unknown =>
  mapObjects(value, (object) =>
    without(object, (key, item) =>
      typeof item === "string" && (
        (key === "$id" && item.startsWith("/schemas/")) ||
        key === "title" ||
        (key === "description" && restatements(object).includes(item))
      )))

/** Response objects open to fields the API adds later (see the module's comment). */
const opened = (value: unknown): unknown =>
  mapObjects(value, (object) => without(object, (key, item) => key === "additionalProperties" && item === false))

/** `$ref`s to the components in `renamed` pointed at their `<Name>Input` copies. */
const toInputs = (value: unknown, renamed: ReadonlySet<string>): unknown =>
  mapObjects(value, (object) =>
    typeof object.$ref === "string" && renamed.has(object.$ref.slice(COMPONENTS.length))
      ? { ...object, $ref: `${object.$ref}Input` }
      : object)

/**
 * `anyOf` of components that one literal property tells apart (each requires it, with one value of
 * its own) as `oneOf` with a discriminator: generators then read the value and build the right type.
 */
const discriminated = (schemas: Record<string, JsonObject>) => (value: unknown): unknown =>
  mapObjects(value, (object) => {
    const members = object.anyOf
    if (!Array.isArray(members) || members.length < 2 || !members.every((m) => typeof m.$ref === "string")) return object
    const targets = members.map((m: JsonObject) => schemas[String(m.$ref).slice(COMPONENTS.length)])
    const literal = (target: JsonObject | undefined, name: string) => {
      const property = (target?.properties as Record<string, JsonObject> | undefined)?.[name]
      const values = property?.enum
      return (target?.required as Array<string> | undefined)?.includes(name) && Array.isArray(values) && values.length === 1 ? values[0] : undefined
    }
    const name = Object.keys((targets[0]?.properties as JsonObject | undefined) ?? {}).find((candidate) => {
      const values = targets.map((target) => literal(target, candidate))
      return values.every((v) => typeof v === "string") && new Set(values).size === values.length
    })
    if (name === undefined) return object
    const { anyOf: _, ...rest } = object
    return {
      ...rest,
      oneOf: members,
      discriminator: { propertyName: name, mapping: Object.fromEntries(members.map((m: JsonObject, i) => [literal(targets[i], name), m.$ref])) }
    }
  })

/** `SERVICE_UNAVAILABLE` -> `ServiceUnavailable`. */
const pascal = (code: string) => code.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase())

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
  Webhooks: "Each party's events pushed to its own HTTPS endpoints: signed, retried with backoff, logged, replayable.",
  Disputes: "Disputes opened by rejections.",
  Operators: "Operator tools: dispute resolution, manual credits and debits, reconciliation, audit and the deadline sweep."
}

const roleText = (route: Route) =>
  route.auth === "public" ? "No token needed." : `Bearer token of role: ${route.auth.join(", ")}.`

/**
 * Builds the document. Named schemas go to `components.schemas`, collected apart for requests and
 * responses (closed and open objects), then merged.
 */
export const document = (routes: ReadonlyArray<Route>): JsonObject => {
  const definitions = { request: {} as Record<string, JSONSchema.JsonSchema7>, response: {} as Record<string, JSONSchema.JsonSchema7> }
  const schemaOf = (schema: Schema.Schema.Any, side: keyof typeof definitions, topLevel: "keep" | "skip" = "keep") =>
    JSONSchema.fromAST(schema.ast, {
      definitions: definitions[side],
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
    const schema = schemaOf(route.body!, "request")
    if (!route.idempotent) return schema
    const ref = typeof schema.$ref === "string" ? (definitions.request[schema.$ref.slice(COMPONENTS.length)] as unknown as JsonObject | undefined) : undefined
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

  const errorRef = schemaOf(Schemas.ErrorBody, "response")
  /** One response per set of error codes (a code has one status), named after its codes. */
  const errorResponses: Record<string, JsonObject> = {}
  const errorResponseOf = (entries: ReadonlyArray<{ code: string; summary: string }>): JsonObject => {
    const sorted = [...entries].sort((a, b) => a.code.localeCompare(b.code))
    const codes = sorted.map((e) => e.code)
    const name = codes.map(pascal).join("Or")
    errorResponses[name] ??= {
      description: sorted.map((e) => `${e.code}: ${e.summary}`).join(" "),
      "x-error-codes": codes,
      // A route's rate limit says when to come back (`RateLimits`).
      ...(codes.includes("RATE_LIMITED")
        ? { headers: { "Retry-After": { description: "Whole seconds until the caller's next request of this class passes.", schema: { type: "integer", minimum: 1 } } } }
        : {}),
      content: {
        "application/json": {
          schema: { allOf: [errorRef, { type: "object", properties: { error: { type: "string", enum: codes } } }] }
        }
      }
    }
    return { $ref: `#/components/responses/${name}` }
  }

  // Each part of an operation, by the side its schemas belong to (cleaned and, for responses, opened below).
  const paths: Record<string, Record<string, { request: JsonObject; response: JsonObject }>> = {}

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
      const query = schemaOf(Schema.typeSchema(route.query), "request", "skip")
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
        schema: schemaOf(Requests.IdempotencyKey, "request", "skip")
      })
    }

    const responses: Record<string, JsonObject> = {
      [String(route.status)]: {
        description: statusText[route.status]!,
        content: { "application/json": { schema: schemaOf(route.response, "response") } }
      }
    }
    const byStatus = new Map<number, Array<{ code: string; summary: string }>>()
    for (const tag of errorsOf(route)) {
      const entry = ErrorCatalogue.entries[tag]
      const list = byStatus.get(entry.status) ?? []
      if (!list.some((e) => e.code === entry.code)) list.push({ code: entry.code, summary: entry.summary })
      byStatus.set(entry.status, list)
    }
    for (const [status, entries] of [...byStatus].sort(([a], [b]) => a - b)) responses[String(status)] = errorResponseOf(entries)

    const operation: JsonObject = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: [route.description, roleText(route)].filter((s) => s !== undefined).join("\n\n"),
      "x-roles": route.auth === "public" ? [] : route.auth,
      security: route.auth === "public" ? [] : [{ bearerAuth: [] }],
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(route.body === undefined ? {} : { requestBody: requestBodyOf(route) })
    }
    const byMethod = (paths[route.path] ??= {})
    byMethod[route.method.toLowerCase()] = { request: operation, response: responses }
  }

  // A component used both ways is two, where its open (response) and closed (request) forms differ;
  // a request component referring to such a one differs too, hence the rounds until none is added.
  const requests = cleaned(definitions.request) as Record<string, JsonObject>
  const responseComponents = opened(cleaned(definitions.response)) as Record<string, JsonObject>
  const renamed = new Set<string>()
  for (let added = true; added;) {
    added = false
    for (const [name, schema] of Object.entries(requests)) {
      if (renamed.has(name) || !(name in responseComponents)) continue
      if (JSON.stringify(toInputs(schema, renamed)) !== JSON.stringify(responseComponents[name])) {
        renamed.add(name)
        added = true
      }
    }
  }
  const schemas: Record<string, JsonObject> = { ...responseComponents }
  for (const [name, schema] of Object.entries(requests)) {
    schemas[renamed.has(name) ? `${name}Input` : name] = toInputs(schema, renamed) as JsonObject
  }
  const withUnions = discriminated(schemas)

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
    paths: Object.fromEntries(Object.entries(paths).map(([path, byMethod]) => [path, Object.fromEntries(
      Object.entries(byMethod).map(([method, { request, response }]) => [method, {
        ...(toInputs(cleaned(request), renamed) as JsonObject),
        responses: withUnions(opened(cleaned(response)))
      }])
    )])),
    components: {
      schemas: withUnions(schemas),
      responses: errorResponses,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "A token from registration or rotation, or the operator token." } }
    },
    "x-error-catalogue": ErrorCatalogue.table.map((row) => ({ code: row.code, status: row.status, summary: row.summary }))
  }
}
