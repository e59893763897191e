/**
 * Which URLs and addresses a webhook may call (SSRF, fail-closed): https only, no credentials in the
 * URL, and every address the host resolves to must be public, checked at registration and again at
 * each delivery (DNS may change between); the transport connects to the checked address and follows
 * no redirect. `allowPrivate` (local development, tests) lifts the scheme and address rules only.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect } from "effect"
import { BlockList } from "node:net"
import { WebhookSettings } from "./WebhookSettings.js"
import * as WebhookTransport from "./WebhookTransport.js"

/**
 * Addresses that are not the public internet: private, loopback, link-local, shared (CGNAT),
 * documentation, benchmarking, multicast and reserved ranges. An IPv4-mapped IPv6 address is judged
 * as its IPv4 address (`BlockList` applies the IPv4 rules to it); other IPv6 forms that embed an
 * IPv4 address (compatible, NAT64, 6to4, Teredo) are refused whole rather than unwrapped.
 */
const notPublic = (() => {
  const list = new BlockList()
  for (const [net, prefix] of [
    ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
    ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15],
    ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4]
  ] as const) list.addSubnet(net, prefix, "ipv4")
  for (const [net, prefix] of [
    ["::", 96], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 23],
    ["2001:db8::", 32], ["2002::", 16], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8]
  ] as const) list.addSubnet(net, prefix, "ipv6")
  return list
})()

/** Whether the server may call `address` (a resolved or literal IP). */
export const isPublicAddress = (address: WebhookTransport.Address): boolean =>
  !notPublic.check(address.address, address.family === 4 ? "ipv4" : "ipv6")

const refused = (reason: ErrorCatalogue.WebhookUrlRefused["reason"]) => new ErrorCatalogue.WebhookUrlRefused({ reason })

/** The URL's form: absolute http(s), https unless `allowPrivate`, no credentials. */
const parseUrl = (text: string, allowPrivate: boolean): Effect.Effect<URL, ErrorCatalogue.WebhookUrlRefused> => {
  if (!URL.canParse(text)) return Effect.fail(refused("invalid_url"))
  const url = new URL(text)
  if (url.protocol !== "https:" && url.protocol !== "http:") return Effect.fail(refused("invalid_url"))
  if (url.protocol === "http:" && !allowPrivate) return Effect.fail(refused("scheme_not_allowed"))
  if (url.username !== "" || url.password !== "") return Effect.fail(refused("credentials_in_url"))
  return Effect.succeed(url)
}

/**
 * Where `url` may be called now: its host's addresses, every one public (unless `allowPrivate`).
 * One address that is not public refuses the URL, even if others are: which one a connection would
 * use is not ours to choose.
 */
export const checkUrl = Effect.fnUntraced(function* (text: string) {
  const settings = yield* WebhookSettings
  const transport = yield* WebhookTransport.WebhookTransport
  const url = yield* parseUrl(text, settings.allowPrivate)
  const addresses = yield* transport.resolve(WebhookTransport.bareHost(url.hostname)).pipe(
    Effect.catchAll(() => Effect.fail(refused("unresolvable")))
  )
  if (addresses.length === 0) return yield* refused("unresolvable")
  if (!settings.allowPrivate && !addresses.every(isPublicAddress)) return yield* refused("private_address")
  return { url, address: addresses[0]! }
})
