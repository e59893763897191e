/**
 * The Hono app over a `ManagedRuntime` of the engine (ARCHITECTURE §8). Each request: read the body
 * within the limit, then in one Effect run: authenticate, refuse values no store can keep as sent,
 * decode the query and body with the route's Schemas, run the handler's one command, encode the
 * response with the route's Schema.
 * Every failure maps through the error catalogue; unexpected ones are logged and answered with
 * `INTERNAL_ERROR`, never with their internals. Tokens are hashed by `Tokens.authenticate` and
 * appear in no log.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Tokens } from "@clawbounties/marketplace"
import { Effect, type ManagedRuntime, Schema } from "effect"
import type { HttpBindings } from "@hono/node-server"
import { Hono } from "hono"
import type { IncomingMessage } from "node:http"
import * as Docs from "./Docs.js"
import * as Http from "./Http.js"
import * as OpenApi from "./OpenApi.js"
import type * as RateLimits from "./RateLimits.js"
import { honoPath, MAX_PATH_PARAM_LENGTH, pathPattern, type Route, type Services } from "./Route.js"
import { routes as allRoutes } from "./Routes.js"

export interface Options {
  readonly bodyLimitBytes: number
  /** The routes to serve; all of them by default. */
  readonly routes?: ReadonlyArray<Route> | undefined
  /** Shutdown (see `Server`): once `closing` is aborted every response asks the client to close
   * its connection; once `interrupt` is, requests still running are interrupted and answer 503. */
  readonly shutdown?: { readonly closing: AbortSignal; readonly interrupt: AbortSignal } | undefined
  /** Per-caller limits, checked before the body is read; none without. */
  readonly rateLimits?: RateLimits.RateLimits | undefined
}

export type Runtime = ManagedRuntime.ManagedRuntime<Services, unknown>

/** The bearer token of a request, `""` when there is none (authentication then says `missing_token`). */
const bearer = (header: string | undefined): string => {
  if (header === undefined) return ""
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  // A malformed header is treated as a wrong token, not as no token.
  return match === null ? (header.trim().length === 0 ? "" : "\u0000malformed") : match[1]!
}

const authenticate = (route: Route, header: string | undefined) =>
  Effect.gen(function* () {
    if (route.auth === "public") return undefined
    const principal = yield* Tokens.authenticate(bearer(header))
    if (!route.auth.includes(principal.role)) {
      return yield* new ErrorCatalogue.Forbidden({ reason: `requires a token of role ${route.auth.join(" or ")}` })
    }
    return principal
  })

/** Completes once `signal` is aborted; never without one. */
const abortedOf = (signal: AbortSignal | undefined): Effect.Effect<void> =>
  signal === undefined
    ? Effect.never
    : Effect.async<void>((resume) => {
      if (signal.aborted) return resume(Effect.void)
      const onAbort = () => resume(Effect.void)
      signal.addEventListener("abort", onAbort, { once: true })
      return Effect.sync(() => signal.removeEventListener("abort", onAbort))
    })

/** The per-route pipeline, with its decoders and encoder built once. */
const handlerFor = (runtime: Runtime, route: Route, options: Options) => {
  const closing = abortedOf(options.shutdown?.closing)
  const decodeBody = route.body === undefined ? undefined : Http.decoder(route.body, "body")
  const decodeQuery = route.query === undefined ? undefined : Http.decoder(route.query, "query")
  const encode = Schema.encode(route.response)

  return async (
    request: Request,
    params: Record<string, string>,
    queryOf: () => Record<string, ReadonlyArray<string>>,
    incoming: IncomingMessage | undefined
  ): Promise<Response> => {
    const limited = options.rateLimits?.refusal(route, request, incoming)
    if (limited !== undefined) return limited
    const raw = route.body === undefined ? undefined : await Http.readBody(request, options.bodyLimitBytes, incoming)
    const program = Effect.gen(function* () {
      const actor = yield* authenticate(route, request.headers.get("authorization") ?? undefined)
      if (actor !== undefined) options.rateLimits?.recognise(request.headers.get("authorization")!, actor)
      yield* Http.refuseUnstorable("path", params)
      yield* Http.refuseLongPathParams(params, MAX_PATH_PARAM_LENGTH)
      let query: unknown = undefined
      if (decodeQuery !== undefined) {
        const rawQuery = yield* Http.singleValuedQuery(queryOf())
        yield* Http.refuseUnstorable("query", rawQuery)
        query = yield* decodeQuery(rawQuery)
      }
      let body: unknown = undefined
      if (raw !== undefined && decodeBody !== undefined) {
        const headers = { contentType: request.headers.get("content-type"), contentEncoding: request.headers.get("content-encoding") }
        const json = yield* Http.parseJson(raw, headers, options.bodyLimitBytes)
        yield* Http.refuseUnstorable("body", json)
        const keyed = route.idempotent ? yield* Http.withIdempotencyKey(json, yield* Http.idempotencyKeyHeader(request, incoming)) : json
        body = yield* decodeBody(keyed)
        yield* Http.refuseDroppedProtoKeys(keyed, body)
      }
      const result = yield* route.handler({ actor, params, body, query, closing })
      // The response Schema is the document's: a value it cannot encode is a defect of the server.
      return yield* Effect.orDie(encode(result))
    }).pipe(
      Effect.tapErrorCause((cause) => {
        const { log } = Http.failureResponse(cause)
        if (log === "unexpected") return Effect.logError(`${route.method} ${route.path} failed unexpectedly`, cause)
        // A line, not the stack: an outage fails every request the same way.
        if (log === "unavailable") return Effect.logWarning(`${route.method} ${route.path}: the database is unavailable or busy`)
        return Effect.void
      }),
      Effect.withSpan(`http ${route.operationId}`)
    )
    const signal = options.shutdown === undefined ? request.signal : AbortSignal.any([request.signal, options.shutdown.interrupt])
    const exit = await runtime.runPromiseExit(program, { signal })
    const response = exit._tag === "Success" ? Http.json(route.status, exit.value) : Http.failureResponse(exit.cause).response
    if (Http.closesConnection(raw) || options.shutdown?.closing.aborted) response.headers.set("connection", "close")
    return response
  }
}

/** The app: every route, `/openapi.json`, `/docs`, and catalogued 404/405 answers. */
export const make = (runtime: Runtime, options: Options): Hono => {
  const routes = options.routes ?? allRoutes
  const app = new Hono()
  const document = OpenApi.document(routes)
  const documentJson = JSON.stringify(document)
  const docsHtml = Docs.render(document)

  app.get(OpenApi.DOCUMENT_PATH, () =>
    new Response(documentJson, { status: 200, headers: { "content-type": "application/json; charset=utf-8" } }))
  app.get(OpenApi.DOCS_PATH, () =>
    new Response(docsHtml, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } }))

  for (const route of routes) {
    const handle = handlerFor(runtime, route, options)
    app.on(route.method, honoPath(route.path), (c) =>
      // Served by @hono/node-server, `c.env.incoming` is Node's request; under `app.request` there is none.
      handle(c.req.raw, c.req.param() as Record<string, string>, () => c.req.queries(), (c.env as Partial<HttpBindings> | undefined)?.incoming))
  }

  // A path the API serves with other methods is 405 (with Allow); anything else is 404.
  const patterns = [
    ...routes.map((route) => ({ method: route.method, pattern: pathPattern(route.path) })),
    { method: "GET", pattern: pathPattern(OpenApi.DOCUMENT_PATH) },
    { method: "GET", pattern: pathPattern(OpenApi.DOCS_PATH) }
  ]
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname
    const allowed = Array.from(new Set(patterns.filter((p) => p.pattern.test(path)).map((p) => p.method)))
    if (allowed.length > 0) {
      return Http.errorResponse(new ErrorCatalogue.MethodNotAllowed({ method: c.req.method, allowed }), { allow: allowed.join(", ") })
    }
    return Http.errorResponse(new ErrorCatalogue.NotFound({ entity: "route", id: `${c.req.method} ${path.slice(0, 200)}` }))
  })
  app.onError((error) => {
    // Hono's own failures (none expected): logged without the request, answered without internals.
    runtime.runFork(Effect.logError("unhandled error in the HTTP layer", error))
    return Http.errorResponse(new ErrorCatalogue.InternalError())
  })
  return app
}
