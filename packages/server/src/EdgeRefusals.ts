/**
 * Answers for requests refused before the app sees them, in the catalogue's `{ error, message,
 * details }` shape like every other refusal. Node's HTTP parser answers what it cannot parse with a
 * bare status line (`400`, `431` for oversized headers, `408` for a request that never finished), and
 * @hono/node-server an empty `400` when no Request can be built (a malformed Host header).
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { RequestError } from "@hono/node-server"
import { maxHeaderSize, STATUS_CODES } from "node:http"
import type { Duplex } from "node:stream"
import * as Http from "./Http.js"

/** What Node's parser refused, as a catalogued error; undefined when no one is left to answer. */
export const parserRefusal = (error: NodeJS.ErrnoException): ErrorCatalogue.EngineError | undefined => {
  switch (error.code) {
    case "ECONNRESET":
      return undefined
    case "HPE_HEADER_OVERFLOW":
      return new ErrorCatalogue.HeadersTooLarge({ limit_bytes: maxHeaderSize })
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ErrorCatalogue.RequestTimeout()
    default:
      return new ErrorCatalogue.InvalidRequest({ message: "the request is not well-formed HTTP/1.1" })
  }
}

/** The whole HTTP/1.1 response for `error`, closing the connection (the parser cannot go on). */
export const rawResponse = (error: ErrorCatalogue.EngineError): string => {
  const { body, status } = ErrorCatalogue.toWire(error)
  const text = JSON.stringify(body)
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    "content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nconnection: close\r\n" +
    `content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`
}

/** The server's `clientError` listener, in place of Node's default. */
export const onClientError = (error: NodeJS.ErrnoException, socket: Duplex): void => {
  const refusal = parserRefusal(error)
  // As Node's default: a response already under way on this connection cannot be followed by another.
  const responding = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
  if (refusal === undefined || !socket.writable || responding) {
    socket.destroy()
    return
  }
  socket.end(rawResponse(refusal))
}

/**
 * @hono/node-server's `errorHandler`: a request no Request could be built from is the client's
 * fault; anything else (the app throwing instead of answering, which it does not) is ours.
 */
export const onRequestError = (error: unknown): Response =>
  Http.errorResponse(error instanceof RequestError
    ? new ErrorCatalogue.InvalidRequest({ message: "the request line or Host header does not form a valid URL" })
    : new ErrorCatalogue.InternalError())
