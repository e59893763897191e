/** Escrows, balances, an account's history, and fee quotes. */
import { Quote } from "@clawbounties/fees"
import { Ledger } from "@clawbounties/ledger"
import { BountyStore, Tokens, Wire } from "@clawbounties/marketplace"
import { DateTime, Effect, Option } from "effect"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole, nowIso, notFound } from "./Common.js"

export const getEscrow = route({
  method: "GET",
  path: "/v1/escrows/{escrow_id}",
  operationId: "getEscrow",
  tag: "Money",
  summary: "One escrow, to its requester, its worker and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Escrow,
  errors: ["NotFound"],
  handler: ({ actor, params }) =>
    Effect.gen(function* () {
      const escrow = yield* BountyStore.findEscrow(params.escrow_id!)
      const visible = Option.filter(escrow, (row) =>
        actor.role === "operator" || row.requester_did === actor.did || row.worker_did === actor.did)
      if (Option.isNone(visible)) return yield* notFound("escrow", params.escrow_id!)
      return Wire.escrow(visible.value)
    })
})

/** A participant reads its own account; operators read any (system accounts included). */
const requireAccountAccess = (actor: Tokens.Principal, did: string) =>
  actor.role === "operator" || actor.did === did ? Effect.void : Effect.fail(notFound("account", did))

export const getBalances = route({
  method: "GET",
  path: "/v1/balances",
  operationId: "getBalances",
  tag: "Money",
  summary: "Balances of an account per bucket: A available, H held, B bonded, F fees, P promo (spec A3.2).",
  auth: anyRole,
  query: Schemas.BalancesQuery,
  status: 200,
  response: Schemas.BalancesResponse,
  errors: ["NotFound"],
  handler: ({ actor, query }) =>
    Effect.gen(function* () {
      yield* requireAccountAccess(actor, query.did)
      const ledger = yield* Ledger.Ledger
      const currency = query.currency ?? "USD"
      // A participant that never held money has no account yet: all its buckets are zero.
      const all = yield* ledger.balances(query.did).pipe(
        Effect.catchTag("UnknownAccount", () => Effect.succeed({} as Ledger.Balances))
      )
      const buckets = all[currency] ?? { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n }
      return {
        did: query.did,
        currency,
        buckets: { A: `${buckets.A}`, H: `${buckets.H}`, B: `${buckets.B}`, F: `${buckets.F}`, P: `${buckets.P}` },
        as_of: yield* nowIso
      }
    })
})

export const getHistory = route({
  method: "GET",
  path: "/v1/balances/history",
  operationId: "getAccountHistory",
  tag: "Money",
  summary: "An account's postings, newest first, with the balance after each (cursor paging).",
  auth: anyRole,
  query: Schemas.HistoryQuery,
  status: 200,
  response: Schemas.HistoryResponse,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, query }) =>
    Effect.gen(function* () {
      yield* requireAccountAccess(actor, query.did)
      const ledger = yield* Ledger.Ledger
      const page = yield* ledger.history({ account: query.did, currency: query.currency, cursor: query.cursor, limit: query.limit })
      return {
        did: query.did,
        items: page.items.map((item) => ({
          entry_id: item.entryId,
          kind: item.kind,
          created_at: DateTime.formatIso(DateTime.unsafeMake(item.createdAt)),
          bucket: item.bucket,
          currency: item.currency,
          amount_minor: item.amount.toString(),
          balance_after_minor: item.balanceAfter.toString(),
          metadata: item.metadata,
          cursor: item.cursor
        })),
        next_cursor: page.nextCursor
      }
    })
})

export const simulateFees = route({
  method: "POST",
  path: "/v1/fees/simulate",
  operationId: "simulateFees",
  tag: "Money",
  summary: "Quote a job's fees under a policy (spec A3.3): principal, buyer total, worker net, each fee.",
  auth: anyRole,
  body: Quote.SimulateRequest,
  status: 200,
  response: Quote.SimulateResponse,
  errors: ["PolicyNotFound", "RuleNotFound", "InvalidRequest"],
  handler: ({ body }) => Quote.quote(body)
})
