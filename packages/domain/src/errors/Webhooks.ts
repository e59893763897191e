/** Errors of webhook endpoints (ARCHITECTURE §5: the push consumer of the outbox). */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/**
 * A webhook URL the server will not call (fail-closed against SSRF): not an absolute http(s) URL,
 * `http` where only `https` is allowed, credentials in the URL, a host that does not resolve, or an
 * address (literal or resolved) that is private, loopback, link-local or otherwise not public.
 */
export class WebhookUrlRefused extends Schema.TaggedError<WebhookUrlRefused>()("WebhookUrlRefused", {
  reason: Schema.Literal("invalid_url", "scheme_not_allowed", "credentials_in_url", "unresolvable", "private_address")
}) {
  override get message(): string {
    switch (this.reason) {
      case "invalid_url":
        return "url must be an absolute http(s) URL"
      case "scheme_not_allowed":
        return "url must use https"
      case "credentials_in_url":
        return "url must not carry a user name or password"
      case "unresolvable":
        return "url's host does not resolve"
      case "private_address":
        return "url's host is or resolves to a private, loopback, link-local or reserved address"
    }
  }
}

/** The principal already has as many webhook endpoints as allowed; delete one first. */
export class WebhookLimitReached extends Schema.TaggedError<WebhookLimitReached>()("WebhookLimitReached", {
  limit: Schema.Number
}) {
  override get message(): string {
    return `a principal may register at most ${this.limit} webhook endpoints; delete one first`
  }
}

export type WebhookError = WebhookUrlRefused | WebhookLimitReached

export const webhookEntries = {
  WebhookUrlRefused: {
    code: "WEBHOOK_URL_REFUSED",
    status: 422,
    summary: "The webhook URL is not one the server will call: https only, no credentials, and only public addresses (unless WEBHOOK_ALLOW_PRIVATE)."
  },
  WebhookLimitReached: {
    code: "WEBHOOK_LIMIT_REACHED",
    status: 409,
    summary: "The principal has as many webhook endpoints as allowed; delete one first."
  }
} as const satisfies Section<WebhookError>
