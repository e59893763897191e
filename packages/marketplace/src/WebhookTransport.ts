/**
 * Outbound HTTP for webhooks, as a port: `resolve` a host's addresses and `post` a body to one
 * address already checked. The engine checks every address (`Webhooks.checkAddress`) between the
 * two, so a transport an embedder swaps in cannot widen what the server may call; the live one
 * connects to exactly the checked address (a second DNS answer cannot redirect it: DNS rebinding),
 * never follows a redirect, and reads only the status line of the answer.
 */
import { Context, Data, Effect, Layer } from "effect"
import { lookup } from "node:dns/promises"
import * as http from "node:http"
import * as https from "node:https"
import { isIP } from "node:net"

export interface Address {
  readonly address: string
  readonly family: 4 | 6
}

export interface PostRequest {
  readonly url: URL
  /** Where to connect: one of the host's addresses, already checked. */
  readonly address: Address
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The call did not get an HTTP answer: `detail` is a short code (`ECONNREFUSED`), for the delivery log. */
export class WebhookTransportError extends Data.TaggedError("WebhookTransportError")<{
  readonly reason: "unresolvable" | "network"
  readonly detail: string
}> {}

export interface Service {
  /** Every address the host resolves to (an IP literal resolves to itself). */
  readonly resolve: (hostname: string) => Effect.Effect<ReadonlyArray<Address>, WebhookTransportError>
  /** POSTs `body` and answers the status code; interrupting it aborts the call. */
  readonly post: (request: PostRequest) => Effect.Effect<{ readonly status: number }, WebhookTransportError>
}

export class WebhookTransport extends Context.Tag("@clawbounties/marketplace/WebhookTransport")<WebhookTransport, Service>() {}

/** `[::1]` -> `::1`: URL keeps IPv6 literals in brackets. */
export const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, "$1")

const codeOf = (error: unknown): string => {
  const code = (error as { readonly code?: unknown } | null)?.code
  return typeof code === "string" ? code : "network_error"
}

const resolve = (hostname: string): Effect.Effect<ReadonlyArray<Address>, WebhookTransportError> => {
  const host = bareHost(hostname)
  const family = isIP(host)
  if (family !== 0) return Effect.succeed([{ address: host, family: family as 4 | 6 }])
  return Effect.tryPromise({
    try: () => lookup(host, { all: true, verbatim: true }),
    catch: (error) => new WebhookTransportError({ reason: "unresolvable", detail: codeOf(error) })
  }).pipe(Effect.map((found) => found.map(({ address, family }) => ({ address, family: family as 4 | 6 }))))
}

const post = (request: PostRequest) =>
  Effect.async<{ readonly status: number }, WebhookTransportError>((resume) => {
    const { url, address } = request
    const client = url.protocol === "https:" ? https : http
    const outgoing = client.request({
      method: "POST",
      protocol: url.protocol,
      hostname: bareHost(url.hostname),
      port: url.port === "" ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
      agent: false,
      // Connect to the checked address whatever DNS says now (TLS still verifies the host name).
      lookup: (_host, options, callback) =>
        options.all ? callback(null, [{ ...address }]) : callback(null, address.address, address.family)
    }, (incoming) => {
      resume(Effect.succeed({ status: incoming.statusCode ?? 0 }))
      // Only the status counts: the answer's body is not read, however long it is.
      incoming.destroy()
    })
    outgoing.on("error", (error) => resume(Effect.fail(new WebhookTransportError({ reason: "network", detail: codeOf(error) }))))
    outgoing.end(request.body)
    return Effect.sync(() => outgoing.destroy())
  })

/** Node's DNS resolver and HTTP(S) client. */
export const layer = Layer.succeed(WebhookTransport, { resolve, post })
