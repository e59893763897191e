/**
 * The edge's mechanics: reading a body within the size limit, parsing JSON strictly, decoding with a
 * route's Schema, and turning any outcome into a response with the catalogue's code and status.
 */
import { ErrorCatalogue, Text } from "@clawbounties/domain"
import { Transaction } from "@clawbounties/ledger"
import { Requests } from "@clawbounties/marketplace"
import { Cause, Effect, Option, ParseResult, Schema } from "effect"
import type { IncomingMessage } from "node:http"

/** JSON nested deeper than the engine accepts is refused before parsing: deep values overflow recursive code. */
const MAX_JSON_DEPTH = Requests.MAX_JSON_DEPTH
const MAX_ISSUES = 20
const MAX_ISSUE_MESSAGE = 300

export type RawBody =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "NotUtf8" }
  /** The client went away before the body ended: nobody is left to answer. */
  | { readonly _tag: "Aborted" }

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/**
 * Reads the body, stopping as soon as it exceeds `limit` bytes (a declared `Content-Length` over the
 * limit is refused before reading anything). Served by Node, it reads Node's request stream itself:
 * the Fetch `Request`'s body stream cost about 6% of the server's time in `bench:http`.
 */
export const readBody = (request: Request, limit: number, incoming?: IncomingMessage): Promise<RawBody> => {
  const declared = request.headers.get("content-length")
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) return Promise.resolve({ _tag: "TooLarge" })
  return incoming === undefined ? readStream(request, limit) : readIncoming(incoming, limit)
}

const readStream = async (request: Request, limit: number): Promise<RawBody> => {
  if (request.body === null) return { _tag: "Empty" }
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const read = await reader.read().catch(() => undefined)
    if (read === undefined) return { _tag: "Aborted" }
    const { done, value } = read
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => undefined)
      return { _tag: "TooLarge" }
    }
    chunks.push(value)
  }
  return text(chunks, size)
}

const readIncoming = (incoming: IncomingMessage, limit: number): Promise<RawBody> =>
  new Promise((resolve) => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    const settle = (finish: () => void) => {
      incoming.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose)
      finish()
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      // The rest is left unread: the refusal closes the connection (see `closesConnection`).
      if (size > limit) settle(() => resolve({ _tag: "TooLarge" }))
      else chunks.push(chunk)
    }
    const onEnd = () => settle(() => resolve(text(chunks, size)))
    const onError = () => settle(() => resolve({ _tag: "Aborted" }))
    const onClose = () => settle(() => resolve({ _tag: "Aborted" }))
    incoming.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose)
  })

const text = (chunks: ReadonlyArray<Uint8Array>, size: number): RawBody => {
  if (size === 0) return { _tag: "Empty" }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  try {
    return { _tag: "Text", text: utf8.decode(bytes) }
  } catch {
    return { _tag: "NotUtf8" }
  }
}

/**
 * A body refused part-way is still arriving on the connection, so the answer closes it: a client
 * that reused the connection would otherwise wait behind the unread rest.
 */
export const closesConnection = (body: RawBody | undefined): boolean => body?._tag === "TooLarge"

/** `application/json`, or any `application/*+json`, with or without parameters. */
export const isJsonContentType = (contentType: string | null): boolean => {
  if (contentType === null) return false
  const match = /^application\/([a-z0-9.+-]*\+)?json\s*(;.*)?$/i.exec(contentType.trim())
  if (match === null) return false
  // The body is decoded as UTF-8: a text labelled in another charset would be misread, not refused.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(match[2] ?? "")?.[1]?.toLowerCase()
  // US-ASCII is a subset of UTF-8: such a body reads the same either way.
  return charset === undefined || charset === "utf-8" || charset === "utf8" || charset === "us-ascii"
}

/** A content coding other than `identity` (gzip, br, ...): the body would be read as the wrong bytes. */
const isEncoded = (contentEncoding: string | null): boolean =>
  contentEncoding !== null && !["", "identity"].includes(contentEncoding.trim().toLowerCase())

/** The deepest nesting of arrays and objects in JSON text (strings skipped), stopping past `max`. */
export const jsonDepthExceeds = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

/** The JSON value of a body: `{}` when empty (every body schema then says what is missing). */
export const parseJson = (
  body: RawBody,
  headers: { readonly contentType: string | null; readonly contentEncoding: string | null },
  limit: number
): Effect.Effect<
  unknown,
  ErrorCatalogue.MalformedJson | ErrorCatalogue.UnsupportedMediaType | ErrorCatalogue.PayloadTooLarge | ErrorCatalogue.InvalidRequest | ErrorCatalogue.ServiceUnavailable
> => {
  const contentType = headers.contentType
  if ((body._tag === "Text" || body._tag === "NotUtf8") && isEncoded(headers.contentEncoding)) {
    return Effect.fail(new ErrorCatalogue.UnsupportedMediaType({
      content_type: (contentType ?? "").slice(0, 100),
      content_encoding: headers.contentEncoding!.slice(0, 100)
    }))
  }
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({})
    case "Aborted":
      return Effect.fail(new ErrorCatalogue.ServiceUnavailable({ reason: "the client closed the connection before the body ended" }))
    case "TooLarge":
      return Effect.fail(new ErrorCatalogue.PayloadTooLarge({ limit_bytes: limit }))
    case "NotUtf8":
      return isJsonContentType(contentType)
        ? Effect.fail(new ErrorCatalogue.MalformedJson({ message: "the body is not valid UTF-8" }))
        : Effect.fail(new ErrorCatalogue.UnsupportedMediaType({ content_type: (contentType ?? "").slice(0, 100) }))
    case "Text": {
      if (!isJsonContentType(contentType)) {
        return Effect.fail(new ErrorCatalogue.UnsupportedMediaType({ content_type: (contentType ?? "").slice(0, 100) }))
      }
      if (jsonDepthExceeds(body.text, MAX_JSON_DEPTH)) {
        return Effect.fail(new ErrorCatalogue.InvalidRequest({
          message: `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted`,
          issues: [{ path: "", message: `nesting deeper than ${MAX_JSON_DEPTH}` }]
        }))
      }
      try {
        return Effect.succeed(JSON.parse(body.text) as unknown)
      } catch (error) {
        return Effect.fail(new ErrorCatalogue.MalformedJson({
          message: `the body is not valid JSON: ${error instanceof Error ? error.message.slice(0, 200) : "parse error"}`
        }))
      }
    }
  }
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text)

/** A Schema failure as `INVALID_REQUEST` with one issue per problem (paths dotted, messages clipped). */
export const invalidRequest = (where: "body" | "query", error: ParseResult.ParseError): ErrorCatalogue.InvalidRequest => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, MAX_ISSUES).map((issue) => ({
    path: issue.path.map(String).join("."),
    message: clip(issue.message, MAX_ISSUE_MESSAGE)
  }))
  return new ErrorCatalogue.InvalidRequest({ message: `the request ${where} does not match its schema`, issues })
}

/**
 * The walks over a request's values below keep one path stack and copy it only for a finding: a
 * copy per value cost more than the parse itself on a large body, which anyone may send to a public
 * route.
 */
type PathStack = Array<string | number>
const pathOf = (stack: PathStack): ReadonlyArray<string> => stack.map(String)

/** The own entries of a JSON object or array, arrays by index without building the pairs. */
const forEachChild = (value: object, visit: (key: string | number, item: unknown) => boolean): boolean => {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (visit(i, value[i])) return true
    return false
  }
  for (const key of Object.keys(value)) if (visit(key, (value as Record<string, unknown>)[key])) return true
  return false
}

/**
 * Inputs holding more JSON values than this are decoded to their first problem only. Collecting and
 * formatting every problem costs microseconds each: a 1 MiB body of half a million bad list items,
 * which anyone may send to a public route, held the event loop for seconds.
 */
export const MAX_VALUES_FULLY_REPORTED = 1000

/** Whether `value` holds more than `max` JSON values (counting stops there). */
const holdsMoreValuesThan = (value: unknown, max: number): boolean => {
  let count = 0
  const visit = (item: unknown): boolean => {
    if (++count > max) return true
    return typeof item === "object" && item !== null && forEachChild(item, (_, child) => visit(child))
  }
  return visit(value)
}

/** A strict decoder: unknown fields are refused; every problem is reported, or the first in a large input. */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>, where: "body" | "query") => {
  const decodeAll = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })
  const decodeFirst = Schema.decodeUnknown(schema, { errors: "first", onExcessProperty: "error" })
  return (input: unknown) =>
    Effect.mapError(
      holdsMoreValuesThan(input, MAX_VALUES_FULLY_REPORTED) ? decodeFirst(input) : decodeAll(input),
      (error) => invalidRequest(where, error)
    )
}

/**
 * The query string as one value per parameter. A parameter given twice (`?status=a&status=b`) is
 * refused: reading only the first, as frameworks do, would answer a question the client did not ask.
 */
export const singleValuedQuery = (
  queries: Readonly<Record<string, ReadonlyArray<string>>>
): Effect.Effect<Record<string, string>, ErrorCatalogue.InvalidRequest> => {
  // No prototype: assigning `__proto__` on a plain object sets nothing, and the unknown parameter
  // would vanish instead of being refused by the strict Schema.
  const query: Record<string, string> = Object.create(null)
  for (const [name, values] of Object.entries(queries)) {
    if (values.length > 1) {
      return Effect.fail(new ErrorCatalogue.InvalidRequest({
        message: "the request query gives a parameter more than once",
        issues: [{ path: clip(name, MAX_ISSUE_MESSAGE), message: `is given ${values.length} times; give it once` }]
      }))
    }
    query[name] = values[0] ?? ""
  }
  return Effect.succeed(query)
}

/** The path of the first value in `value` no store can keep as sent, and why. */
interface Unstorable {
  readonly path: ReadonlyArray<string>
  readonly message: string
}

const UNSTORABLE_TEXT = "must not contain U+0000 or an unpaired UTF-16 surrogate"
const UNSTORABLE_NUMBER = "is past the range of a double: JSON.parse reads it as Infinity, which is stored as null"

const findUnstorable = (value: unknown, stack: PathStack): Unstorable | undefined => {
  if (typeof value === "string") return Text.isStorable(value) ? undefined : { path: pathOf(stack), message: UNSTORABLE_TEXT }
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path: pathOf(stack), message: UNSTORABLE_NUMBER }
  if (typeof value !== "object" || value === null) return undefined
  let found: Unstorable | undefined
  forEachChild(value, (key, item) => {
    stack.push(key)
    found = typeof key === "string" && !Text.isStorable(key) ? { path: pathOf(stack), message: UNSTORABLE_TEXT } : findUnstorable(item, stack)
    stack.pop()
    return found !== undefined
  })
  return found
}

/**
 * Refuses U+0000 and unpaired surrogates anywhere in a request's path parameters, query or body:
 * PostgreSQL refuses U+0000 in text and both stores silently replace an unpaired surrogate, so such
 * a value could not be stored, or even looked up, as sent. Likewise a JSON number past the double
 * range (`1e400`): a field kept as sent (a task spec) would silently hold `null` instead. (JSON
 * depth is bounded before this runs.)
 */
export const refuseUnstorable = (where: "path" | "query" | "body", value: unknown): Effect.Effect<void, ErrorCatalogue.InvalidRequest> => {
  const found = findUnstorable(value, [])
  if (found === undefined) return Effect.void
  return Effect.fail(new ErrorCatalogue.InvalidRequest({
    message: `the request ${where} contains a value that cannot be stored as sent`,
    issues: [{ path: clip(found.path.join("."), MAX_ISSUE_MESSAGE), message: found.message }]
  }))
}

/**
 * Refuses a path parameter longer than `max` characters (code points, as the document's `maxLength`
 * counts them): without this an overlong id was looked up and answered NOT_FOUND, which the
 * document does not promise for it.
 */
export const refuseLongPathParams = (
  params: Readonly<Record<string, string>>,
  max: number
): Effect.Effect<void, ErrorCatalogue.InvalidRequest> => {
  const long = Object.keys(params).find((name) => params[name]!.length > max && Array.from(params[name]!).length > max)
  if (long === undefined) return Effect.void
  return Effect.fail(new ErrorCatalogue.InvalidRequest({
    message: "the request path has a parameter longer than accepted",
    issues: [{ path: long, message: `longer than ${max} characters` }]
  }))
}

/** The path of the first `__proto__` key in `raw` that `decoded` no longer has as data. */
const findDroppedProtoKey = (raw: unknown, decoded: unknown, stack: PathStack): ReadonlyArray<string> | undefined => {
  if (typeof raw !== "object" || raw === null) return undefined
  const kept = typeof decoded === "object" && decoded !== null
  let found: ReadonlyArray<string> | undefined
  forEachChild(raw, (key, item) => {
    stack.push(key)
    found = key === "__proto__" && !(kept && Object.hasOwn(decoded, key))
      ? pathOf(stack)
      : findDroppedProtoKey(item, kept ? (decoded as Record<string | number, unknown>)[key] : undefined, stack)
    stack.pop()
    return found !== undefined
  })
  return found
}

/**
 * Refuses a body whose `__proto__` keys decoding dropped. A schema that rebuilds an object (a
 * record of metadata) assigns each key, and assigning `__proto__` sets a prototype instead: the key
 * would vanish from what is stored and from the idempotency hash. Where a field is kept as sent
 * (a task spec, an envelope), the key is data like any other and passes. The decoded body is read
 * at the raw body's paths: body schemas keep their field names (a `fromKey` rename would make a kept
 * key look dropped).
 */
export const refuseDroppedProtoKeys = (raw: unknown, decoded: unknown): Effect.Effect<void, ErrorCatalogue.InvalidRequest> => {
  const dropped = findDroppedProtoKey(raw, decoded, [])
  if (dropped === undefined) return Effect.void
  return Effect.fail(new ErrorCatalogue.InvalidRequest({
    message: "a __proto__ key is not accepted where the body is decoded into an object of its own",
    issues: [{ path: clip(dropped.join("."), MAX_ISSUE_MESSAGE), message: "__proto__ would not be kept here" }]
  }))
}

/**
 * The Idempotency-Key header, refused when sent more than once: Node joins the copies into one
 * value ("a" and "" became the key "a, "), so a retry that sent it once was a different request.
 * Without Node's request (`app.request` in tests) the copies cannot be told apart.
 */
export const idempotencyKeyHeader = (
  request: Request,
  incoming: IncomingMessage | undefined
): Effect.Effect<string | null, ErrorCatalogue.InvalidRequest> => {
  const copies = incoming?.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === "idempotency-key").length ?? 0
  if (copies > 1) {
    return Effect.fail(new ErrorCatalogue.InvalidRequest({
      message: "the Idempotency-Key header is sent more than once",
      issues: [{ path: "idempotency_key", message: "one Idempotency-Key header at most" }]
    }))
  }
  return Effect.succeed(request.headers.get("idempotency-key"))
}

/** The body's idempotency key and the header's, reconciled (the header fills a missing body key). */
export const withIdempotencyKey = (
  body: unknown,
  header: string | null
): Effect.Effect<unknown, ErrorCatalogue.InvalidRequest> => {
  if (header === null || typeof body !== "object" || body === null || Array.isArray(body)) return Effect.succeed(body)
  const record = body as Record<string, unknown>
  if (record.idempotency_key === undefined) return Effect.succeed({ ...record, idempotency_key: header })
  if (record.idempotency_key === header) return Effect.succeed(body)
  return Effect.fail(new ErrorCatalogue.InvalidRequest({
    message: "the Idempotency-Key header and the body's idempotency_key differ",
    issues: [{ path: "idempotency_key", message: "differs from the Idempotency-Key header" }]
  }))
}

// -------------------------------------------------------------------------------------------------
// Responses

const jsonHeaders = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { ...jsonHeaders, ...headers } })

export const isCatalogued = (error: unknown): error is ErrorCatalogue.EngineError =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string" &&
  Object.hasOwn(ErrorCatalogue.entries, (error as { _tag: string })._tag)

export const errorResponse = (error: ErrorCatalogue.EngineError, headers: Record<string, string> = {}): Response => {
  const wire = ErrorCatalogue.toWire(error)
  return json(wire.status, wire.body, headers)
}

/**
 * SQLSTATE classes and codes, and socket errors, that mean "the database cannot serve this now":
 * out of reach, or busy past the limits it was given (`lock_timeout` is 55P03, `statement_timeout`
 * 57014), or contended past the engine's bounded retries (serialization failure 40001, deadlock 40P01).
 */
const unavailableCodes = new Set(["57P01", "57P02", "57P03", "53300", "55P03", "57014", "40001", "40P01", "SQLITE_BUSY", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"])
/** pg's own errors, which carry no code: a connection cut or broken, and the pool's wait for a free connection timing out. */
const unavailableMessage = /connection terminated|connection timeout|connection error|server closed the connection|is not queryable|timeout exceeded when trying to connect/i

/**
 * Whether a failure is the database being out of reach (PostgreSQL restarting or refusing
 * connections, a connection cut, SQLite's file locked past the busy timeout) or too busy (every
 * pooled connection taken, a lock or statement timeout, retries spent on contention) rather than a
 * fault of the request or a bug: the client can retry later. Looks through a few levels of `cause`.
 */
export const isDatabaseUnavailable = (failure: unknown): boolean => {
  const tag = (failure as { _tag?: unknown } | null)?._tag
  // The engine's own typed failures for a timeout and for a connection lost at COMMIT.
  if (tag === "DatabaseTimeout" || tag === "CommitOutcomeUnknown") return true
  if (tag !== "SqlError") return false
  // No connection could be had, whatever the server's reason (it refuses connections to the
  // database, the role's password changed, too many clients): nothing ran, and later it may.
  if ((failure as { message?: unknown }).message === "Failed to acquire connection") return true
  let cause = (failure as { cause?: unknown }).cause
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === "string" && (code.startsWith("08") || unavailableCodes.has(code))) return true
    if (cause instanceof Error && unavailableMessage.test(cause.message)) return true
    cause = (cause as { cause?: unknown }).cause
  }
  return false
}

/**
 * The response for a failed request: a catalogued failure is sent as the catalogue says (a
 * `lock_timeout` or `statement_timeout` as `DATABASE_TIMEOUT`, wherever it struck); an
 * interruption (the client went away, or the server is stopping) and a database out of reach are
 * `SERVICE_UNAVAILABLE`; anything else is `INTERNAL_ERROR`. `log` says what the caller logs: the
 * whole cause of an unexpected failure, a line for an unavailable database; neither is ever sent.
 */
export const failureResponse = <E>(cause: Cause.Cause<E>): { readonly response: Response; readonly log?: "unexpected" | "unavailable" } => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && isCatalogued(failure.value)) {
    const response = errorResponse(failure.value)
    // The engine's database failures (a timeout, a COMMIT cut off) get the operator's line too.
    return isDatabaseUnavailable(failure.value) ? { response, log: "unavailable" } : { response }
  }
  // A timeout outside a command's transaction (a read) answers as one inside it does.
  const timeout = Option.isSome(failure) ? Transaction.timeoutOf(failure.value) : undefined
  if (timeout !== undefined) return { response: errorResponse(timeout), log: "unavailable" }
  if (Cause.isInterruptedOnly(cause)) {
    return { response: errorResponse(new ErrorCatalogue.ServiceUnavailable({ reason: "the request was interrupted" })) }
  }
  // A COMMIT cut off outside `Transaction.run` (which makes it `COMMIT_OUTCOME_UNKNOWN`) dies in
  // @effect/sql rather than failing: the database was out of reach all the same. Whether the COMMIT
  // landed is unknown, and a retry under the same idempotency key is what settles it.
  const sqlFailure = Option.isSome(failure) ? failure : Cause.dieOption(cause)
  if (Option.isSome(sqlFailure) && isDatabaseUnavailable(sqlFailure.value)) {
    return { response: errorResponse(new ErrorCatalogue.ServiceUnavailable({ reason: "the database is unavailable or busy; retry later" })), log: "unavailable" }
  }
  return { response: errorResponse(new ErrorCatalogue.InternalError()), log: "unexpected" }
}
