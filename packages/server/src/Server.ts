/**
 * Serving the app on `@hono/node-server`: build the runtime (storage opened and migrated, the
 * scheduler started), listen, and stop gracefully: stop accepting, close idle connections and ask
 * every later response to close its own, let requests in flight finish within the grace, then
 * interrupt the rest (they answer 503), and dispose the runtime, which stops the scheduler and
 * closes the database.
 */
import { getRequestListener } from "@hono/node-server"
import { Duration, Layer, ManagedRuntime } from "effect"
import { createServer, type Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as App from "./App.js"
import * as EdgeRefusals from "./EdgeRefusals.js"
import * as Engine from "./Engine.js"
import * as RateLimits from "./RateLimits.js"
import * as Scheduler from "./Scheduler.js"

export interface Options {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly bodyLimitBytes: number
  readonly engine: Engine.Options
  readonly scheduler: Scheduler.Options
  /** How long in-flight requests may take to finish on shutdown before their connections are cut. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** Per-caller rate limits; `RateLimits.defaults` on the runtime's clock when omitted. */
  readonly rateLimits?: RateLimits.RateLimits | undefined
}

export interface Running {
  readonly url: string
  readonly port: number
  readonly runtime: App.Runtime
  /** Stops accepting, waits for requests in flight, then disposes the runtime. Idempotent. */
  readonly close: () => Promise<void>
}

/** The runtime's layer: the engine and, over it, the scheduler. */
export const layer = (options: Pick<Options, "engine" | "scheduler">) =>
  Scheduler.layer(options.scheduler).pipe(Layer.provideMerge(Engine.layer(options.engine)))

export const start = async (options: Options): Promise<Running> => {
  const runtime = ManagedRuntime.make(layer(options))
  // Open the store and run the migrations before listening: a bad database stops start-up here.
  try {
    await runtime.runtime()
  } catch (error) {
    await runtime.dispose().catch(() => undefined)
    throw error
  }
  const closing = new AbortController()
  const interrupt = new AbortController()
  const rateLimits = options.rateLimits ?? runtime.runSync(RateLimits.make(RateLimits.defaults))
  const app = App.make(runtime, { bodyLimitBytes: options.bodyLimitBytes, shutdown: { closing: closing.signal, interrupt: interrupt.signal }, rateLimits })
  let server: HttpServer
  try {
    server = await new Promise<HttpServer>((resolve, reject) => {
      const s = createServer(getRequestListener(app.fetch, { hostname: options.host, errorHandler: EdgeRefusals.onRequestError }))
      s.on("clientError", EdgeRefusals.onClientError)
      s.once("error", reject)
      s.listen(options.port, options.host, () => resolve(s))
    })
  } catch (error) {
    // Cannot listen (port in use, address not available): the runtime is already running, with
    // the database open and the scheduler sweeping; stop it, or it outlives the failed start.
    await runtime.dispose().catch(() => undefined)
    throw error
  }
  const address = server.address() as AddressInfo
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  const grace = Duration.toMillis(Duration.decode(options.shutdownGrace ?? "10 seconds"))

  let closed: Promise<void> | undefined
  const close = () =>
    (closed ??= (async () => {
      await new Promise<void>((resolve) => {
        closing.abort()
        // After the grace, what still runs is interrupted and answers 503; a moment later any
        // connection left (a client that never finished its body) is cut.
        const interruptTimer = setTimeout(() => interrupt.abort(), grace)
        const cutTimer = setTimeout(() => server.closeAllConnections(), grace + 1000)
        server.close(() => {
          clearTimeout(interruptTimer)
          clearTimeout(cutTimer)
          resolve()
        })
        server.closeIdleConnections()
      })
      await runtime.dispose()
    })())

  return { url: `http://${host}:${address.port}`, port: address.port, runtime, close }
}
