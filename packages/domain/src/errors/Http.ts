/**
 * Errors of the HTTP edge: what a request can get wrong before any command runs (its JSON, its
 * content type, its size, its headers, its method, its pace), and the two answers the server gives
 * when it cannot serve one (an unexpected failure, or not being ready).
 */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/** The body is not JSON (or not UTF-8). */
export class MalformedJson extends Schema.TaggedError<MalformedJson>()("MalformedJson", {
  message: Schema.String
}) {}

/** A body was sent as something other than unencoded `application/json` in UTF-8. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  content_type: Schema.String,
  /** Set when the body was sent with a content coding (gzip, ...), which is not decoded. */
  content_encoding: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.content_encoding === undefined
      ? `the body must be application/json in UTF-8, not '${this.content_type}'`
      : `the body must be sent without a content coding, not '${this.content_encoding}'`
  }
}

/** The body is larger than the configured limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit_bytes: Schema.Number
}) {
  override get message(): string {
    return `the body exceeds the limit of ${this.limit_bytes} bytes`
  }
}

/** The request line and headers are larger than the server reads (Node's `maxHeaderSize`). */
export class HeadersTooLarge extends Schema.TaggedError<HeadersTooLarge>()("HeadersTooLarge", {
  limit_bytes: Schema.Number
}) {
  override get message(): string {
    return `the request line and headers exceed the limit of ${this.limit_bytes} bytes`
  }
}

/** The request did not arrive in full within the server's request timeout. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {}) {}

/** The path exists but not with this method. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  method: Schema.String,
  allowed: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.method} is not allowed here; allowed: ${this.allowed.join(", ")}`
  }
}

/**
 * The caller has spent its allowance of one class of requests; another passes after
 * `retry_after_seconds`, which the `Retry-After` header repeats.
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  limit_class: Schema.String,
  retry_after_seconds: Schema.Number
}) {
  override get message(): string {
    return `too many ${this.limit_class} requests from this caller; retry after ${this.retry_after_seconds} seconds`
  }
}

/** An unexpected failure. Its details are logged on the server and never sent. */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {}) {}

/** The server cannot serve requests right now (the database is unreachable, or it is shutting down). */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String
}) {}

export type HttpError =
  | MalformedJson
  | UnsupportedMediaType
  | PayloadTooLarge
  | HeadersTooLarge
  | RequestTimeout
  | MethodNotAllowed
  | RateLimited
  | InternalError
  | ServiceUnavailable

export const httpEntries = {
  MalformedJson: { code: "MALFORMED_JSON", status: 400, summary: "The body is not valid JSON." },
  UnsupportedMediaType: { code: "UNSUPPORTED_MEDIA_TYPE", status: 415, summary: "The body must be application/json in UTF-8, without a content coding." },
  PayloadTooLarge: { code: "PAYLOAD_TOO_LARGE", status: 413, summary: "The body exceeds the size limit." },
  HeadersTooLarge: { code: "HEADERS_TOO_LARGE", status: 431, summary: "The request line and headers exceed the size limit." },
  RequestTimeout: { code: "REQUEST_TIMEOUT", status: 408, summary: "The request did not arrive in full in time." },
  MethodNotAllowed: { code: "METHOD_NOT_ALLOWED", status: 405, summary: "The path does not accept this method." },
  RateLimited: { code: "RATE_LIMITED", status: 429, summary: "Too many requests of this class from this caller; retry after the seconds in Retry-After." },
  InternalError: { code: "INTERNAL_ERROR", status: 500, summary: "An unexpected error occurred; it has been logged." },
  ServiceUnavailable: { code: "SERVICE_UNAVAILABLE", status: 503, summary: "The server cannot serve requests right now." }
} as const satisfies Section<HttpError>
