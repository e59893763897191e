/**
 * Wake-ups for waiting event polls across server replicas sharing one PostgreSQL: an
 * `EventSignals` layer that passes each committed transaction's event recipients to the other
 * servers with NOTIFY, and wakes this server's polls for the recipients they NOTIFY.
 *
 * Each server holds one connection of its own, outside the pool, that LISTENs on
 * {@link CHANNEL} and sends this server's NOTIFYs. The payload is the recipients' DIDs separated
 * by spaces, split to stay within NOTIFY's 8000-byte limit. A server ignores the notifications its
 * own connection sent: it woke its own polls when the transaction committed.
 *
 * Why NOTIFY after COMMIT, not inside the command's transaction (where PostgreSQL would send it at
 * COMMIT for us): a transaction that NOTIFYs holds a cluster-wide lock from its COMMIT's start to its
 * end (`PreCommit_Notify` in PostgreSQL's async.c), so every command writing an event would commit
 * one at a time across all replicas, each waiting for the previous one's WAL flush. Here the
 * command's COMMIT is untouched: `Transaction.afterCommit` hands the recipients over once it is done,
 * and one NOTIFY at a time per server carries every recipient that committed meanwhile.
 *
 * A NOTIFY can be lost: the server stops between a COMMIT and its NOTIFY, or the listening
 * connection drops (it reconnects after `reconnectAfter`, on `Clock`). Then the other servers' polls
 * see the event at their next fallback read (`EventSignals.FALLBACK_POLL`, 5 s): late, not lost.
 * Worst case, an event reaches a poll on another replica one NOTIFY round trip and one read after
 * its COMMIT, and within 5 s when the NOTIFY is lost.
 */
import { EventSignals } from "@clawbounties/marketplace"
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Redacted } from "effect"
import pg from "pg"

/** The channel every replica LISTENs on (channels are per database). */
export const CHANNEL = "clawbounties_events"

/** NOTIFY's payload limit is 8000 bytes, terminator included. */
const PAYLOAD_LIMIT = 7999

export interface Options {
  /** `postgres://user@host:5432/db`: the database the replicas share. */
  readonly url: string | Redacted.Redacted
  readonly applicationName?: string | undefined
  /** How long to wait before connecting again when the listening connection fails, 1 s by default. */
  readonly reconnectAfter?: Duration.DurationInput | undefined
}

/** `dids` as NOTIFY payloads, each within the limit. A DID that could not fit alone is left out. */
export const payloads = (dids: Iterable<string>): Array<string> => {
  const out: Array<string> = []
  let current = ""
  for (const did of dids) {
    if (did === "" || did.includes(" ") || Buffer.byteLength(did) > PAYLOAD_LIMIT) continue
    if (current !== "" && Buffer.byteLength(current) + 1 + Buffer.byteLength(did) > PAYLOAD_LIMIT) {
      out.push(current)
      current = ""
    }
    current = current === "" ? did : `${current} ${did}`
  }
  if (current !== "") out.push(current)
  return out
}

const query = (client: pg.Client, text: string, values?: Array<unknown>) =>
  Effect.tryPromise({
    try: () => client.query(text, values),
    catch: (cause) => new SqlError({ cause, message: `Event relay: ${text} failed` })
  })

/** `EventSignals` for this server, relayed to and from the other servers on the database. */
export const layer = (options: Options): Layer.Layer<EventSignals.EventSignals> =>
  Layer.scoped(
    EventSignals.EventSignals,
    Effect.gen(function* () {
      /** Recipients committed here and not yet sent; only gathered while the connection listens. */
      let pending = new Set<string>()
      let listening = false
      /** Ends the sender's wait for recipients, while it waits. */
      let resumeSender: (() => void) | undefined
      const signals = EventSignals.make({
        publish: (dids) => {
          if (!listening) return
          for (const did of dids) pending.add(did)
          resumeSender?.()
        }
      })

      const nextBatch = Effect.async<Set<string>>((resume) => {
        const take = () => {
          resumeSender = undefined
          const batch = pending
          pending = new Set()
          resume(Effect.succeed(batch))
        }
        if (pending.size > 0) return take()
        resumeSender = take
        return Effect.sync(() => {
          resumeSender = undefined
        })
      })

      /** Opened once the relay listens, or failed to: polls then rely on their fallback reads. */
      const started = yield* Effect.makeLatch(false)

      /** Until the connection fails: listens, and sends what committed here. */
      const session = Effect.gen(function* () {
        const client = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: async () => {
              const client = new pg.Client({
                connectionString: typeof options.url === "string" ? options.url : Redacted.value(options.url),
                application_name: `${options.applicationName ?? "clawbounties"} events`,
                connectionTimeoutMillis: 5000
              })
              // An error is reported through `lost` below; without a listener it would crash the process.
              client.on("error", () => {})
              await client.connect()
              return client
            },
            catch: (cause) => new SqlError({ cause, message: "Event relay: failed to connect" })
          }),
          (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption(1000))
        )
        const own = (yield* query(client, "SELECT pg_backend_pid() AS pid")).rows[0].pid as number
        client.on("notification", (message) => {
          if (message.processId !== own && message.channel === CHANNEL && message.payload !== undefined) {
            signals.wake(message.payload.split(" "))
          }
        })
        yield* query(client, `LISTEN ${CHANNEL}`)
        listening = true
        yield* started.open
        yield* Effect.addFinalizer(() => Effect.sync(() => {
          listening = false
          pending = new Set()
        }))
        const lost = Effect.async<never, SqlError>((resume) => {
          const onError = (cause: Error) => resume(Effect.fail(new SqlError({ cause, message: "Event relay: connection failed" })))
          const onEnd = () => resume(Effect.fail(new SqlError({ cause: undefined, message: "Event relay: connection ended" })))
          client.on("error", onError)
          client.on("end", onEnd)
          return Effect.sync(() => {
            client.off("error", onError)
            client.off("end", onEnd)
          })
        })
        const send = Effect.forever(Effect.flatMap(nextBatch, (batch) =>
          Effect.forEach(payloads(batch), (payload) => query(client, "SELECT pg_notify($1, $2)", [CHANNEL, payload]), { discard: true })))
        return yield* Effect.raceFirst(send, lost)
      }).pipe(Effect.scoped)

      const reconnectAfter = options.reconnectAfter ?? Duration.seconds(1)
      yield* session.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("Event relay: the listening connection failed; reconnecting", cause)),
        Effect.ensuring(started.open),
        Effect.zipRight(Effect.sleep(reconnectAfter)),
        Effect.forever,
        Effect.forkScoped
      )
      yield* started.await
      return signals
    })
  )
