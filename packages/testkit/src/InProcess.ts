/**
 * The in-process target: the engine's commands called directly, over SQLite (`:memory:`, a file,
 * or any migrated store), on a manual clock the runner moves, with optional fault injection.
 * Inputs are decoded with the same Schemas the server decodes with (unknown fields refused), and
 * failures are mapped through the error catalogue, so outcomes match what HTTP clients see.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { ErrorCatalogue } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import {
  Bounties,
  BountyStore,
  Closure,
  Deadlines,
  Disputes,
  Identities,
  Operators,
  Requests,
  Submissions,
  Workers,
  Wire
} from "@clawbounties/marketplace"
import type { Actor } from "@clawbounties/marketplace/Actor"
import { Cause, type Context, Effect, Exit, Layer, Logger, LogLevel, Option, ParseResult, Schema, type Scope } from "effect"
import { identity } from "effect/Function"
import * as Builders from "./Builders.js"
import * as Deterministic from "./Deterministic.js"
import * as Faults from "./Faults.js"
import type { Key } from "./Keys.js"
import type { Buckets, Principal, Target } from "./Target.js"
import { defaultWorkerProfile, emptyBuckets, TargetError, transportCodes } from "./Target.js"
import * as TestEngine from "./TestEngine.js"

export interface Options {
  /** A migrated store; SQLite `:memory:` by default. Ignored when `file` is set. */
  readonly store?: Layer.Layer<SqlClient.SqlClient> | undefined
  /** A SQLite file (created and migrated if missing). */
  readonly file?: string | undefined
  readonly settings?: Partial<import("@clawbounties/marketplace").MarketplaceConfig.Settings> | undefined
  /** Seed of the engine's entropy. */
  readonly seed?: number | string | undefined
  /** Wrap the store so database faults can be injected. */
  readonly faults?: boolean | undefined
  /** Simulated start time (ms since epoch). */
  readonly startMillis?: number | undefined
  /** Show the engine's info logs (deadline sweeps, ...); off by default, the runner reports instead. */
  readonly engineLogs?: boolean | undefined
}

export interface InProcess {
  readonly target: Target
  /** The engine's services, for invariant checks on its own records. */
  readonly context: Context.Context<TestEngine.Services>
  readonly clock: Deterministic.ManualClock
}

const isCatalogued = (error: unknown): error is ErrorCatalogue.EngineError =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string" &&
  (error as { _tag: string })._tag in ErrorCatalogue.entries

/** Maps a command's failure the way the server does: catalogue errors by code, the rest by kind. */
export const toTargetError = (cause: Cause.Cause<unknown>): TargetError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof TargetError) return error
    if (isCatalogued(error)) {
      const wire = ErrorCatalogue.toWire(error)
      return new TargetError({ code: wire.body.error, status: wire.status, message: wire.body.message, retryable: wire.status >= 500, details: wire.body.details })
    }
    if (error instanceof SqlError) {
      return new TargetError({ code: transportCodes.DB_ERROR, status: 500, message: error.message, retryable: true })
    }
    if (ParseResult.isParseError(error)) {
      return new TargetError({ code: "INVALID_REQUEST", status: 400, message: error.message, retryable: false })
    }
    return new TargetError({ code: transportCodes.DEFECT, status: 500, message: String(error), retryable: false })
  }
  const defect = Cause.dieOption(cause)
  // A failed COMMIT outside `Transaction.run` (which makes it `COMMIT_OUTCOME_UNKNOWN`) surfaces as
  // a defect (@effect/sql dies on it): the client cannot know whether it committed, which is
  // exactly what a retry with the same idempotency key resolves.
  if (Option.isSome(defect) && defect.value instanceof SqlError) {
    return new TargetError({ code: transportCodes.DB_ERROR, status: 500, message: defect.value.message, retryable: true })
  }
  return new TargetError({ code: transportCodes.DEFECT, status: 500, message: Cause.pretty(cause), retryable: false })
}

const decode = <A, I>(schema: Schema.Schema<A, I>, body: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error" })(body)

const operatorPrincipal: Principal = { did: "operator", role: "operator", token: null }
const actorOf = (p: Principal): Actor => ({ did: p.did, role: p.role })

/** Builds the engine in the current scope and returns a target over it. */
export const make = (options: Options = {}): Effect.Effect<InProcess, never, Scope.Scope> =>
  Effect.gen(function* () {
    const base = options.file !== undefined ? TestEngine.fileStore(options.file) : options.store ?? TestEngine.memoryStore()
    const store = options.faults === true ? Faults.wrap(base) : base
    const context = yield* Layer.build(TestEngine.layer({ store, settings: options.settings, seed: options.seed }))
    const clock = Deterministic.manualClock(options.startMillis)

    const run = <A, E>(effect: Effect.Effect<A, E, TestEngine.Services>): Effect.Effect<A, TargetError> =>
      effect.pipe(
        Effect.provide(context),
        Effect.withClock(clock),
        options.engineLogs === true ? identity : Logger.withMinimumLogLevel(LogLevel.Warning),
        Effect.catchAllCause((cause) => Effect.fail(toTargetError(cause)))
      )

    const json = <A>(effect: Effect.Effect<A, unknown, TestEngine.Services>) =>
      run(Effect.map(effect, (a) => a as unknown as Record<string, unknown>))

    const register = (key: Key, role: "worker" | "requester") =>
      run(Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: key.did, purpose: "register" })
        const proof = Builders.challengeAnswer(key, challenge, role, { issuedAt: clock.nowIso() })
        if (role === "requester") {
          const registered = yield* Identities.register({ did: key.did, role, challenge_id: challenge.challenge_id, proof })
          return { did: key.did as string, role, token: registered.auth.token } satisfies Principal
        }
        const request = yield* decode(Workers.RegisterWorkerRequest, {
          worker_did: key.did,
          challenge_id: challenge.challenge_id,
          proof,
          ...defaultWorkerProfile(`worker ${key.did.slice(-8)}`)
        })
        const registered = yield* Workers.register(request)
        return { did: key.did as string, role, token: registered.auth.token } satisfies Principal
      }))

    const target: Target = {
      kind: "in-process",
      label: `in-process (sqlite ${options.file ?? ":memory:"})`,
      capabilities: {
        clock: "manual",
        sweep: true,
        operator: true,
        faults: options.faults === true ? ["db_before_commit", "db_after_commit"] : [],
        records: true
      },
      operator: Effect.succeed(operatorPrincipal),
      health: run(Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.as(sql`SELECT 1 AS ok`, { status: "ok" }))),
      register,
      credit: (operator, did, amount, idempotencyKey) =>
        json(Effect.flatMap(
          decode(Operators.Credit, { did, amount_minor: amount.toString(), currency: "USD", reason: "simulation funding", idempotency_key: idempotencyKey }),
          (input) => Operators.credit(actorOf(operator), input)
        )),
      balances: (_viewer, did) =>
        run(Effect.gen(function* () {
          const ledger = yield* Ledger.Ledger
          const all = yield* Effect.catchTag(ledger.balances(did), "UnknownAccount", () => Effect.succeed({} as Ledger.Balances))
          return (all.USD ?? emptyBuckets) as Buckets
        })),
      post: (p, body) => json(Effect.flatMap(decode(Requests.PostBounty, body), (input) => Bounties.post(actorOf(p), input))),
      getBounty: (p, id) => json(Bounties.get(actorOf(p), id)),
      cancel: (p, id, body) => json(Effect.flatMap(decode(Requests.Cancel, body), (input) => Bounties.cancel(actorOf(p), id, input))),
      accept: (p, id, body) => json(Effect.flatMap(decode(Requests.Accept, body), (input) => Bounties.accept(actorOf(p), id, input))),
      submit: (p, id, body) => json(Effect.flatMap(decode(Requests.Submit, body), (input) => Submissions.submit(actorOf(p), id, input))),
      listSubmissions: (p, id) => json(Submissions.listForBounty(actorOf(p), id)),
      getSubmission: (p, id) => json(Submissions.get(actorOf(p), id)),
      approve: (p, id, body) => json(Effect.flatMap(decode(Requests.Approve, body), (input) => Closure.approve(actorOf(p), id, input))),
      reject: (p, id, body) => json(Effect.flatMap(decode(Requests.Reject, body), (input) => Closure.reject(actorOf(p), id, input))),
      resolveDispute: (p, id, body) =>
        json(Effect.flatMap(decode(Requests.ResolveDispute, body), (input) => Disputes.resolve(actorOf(p), id, input))),
      getEscrow: (_p, id) =>
        json(Effect.flatMap(BountyStore.findEscrow(id), Option.match({
          onNone: () => Effect.fail(new ErrorCatalogue.NotFound({ entity: "escrow", id })),
          onSome: (row) => Effect.succeed(Wire.escrow(row))
        }))),
      sweep: (p) =>
        p.role !== "operator"
          ? Effect.fail(new TargetError({ code: "FORBIDDEN", status: 403, message: "requires an operator", retryable: false }))
          : run(Deadlines.sweep()),
      reconcile: () =>
        run(Effect.map(Effect.flatMap(Ledger.Ledger, (ledger) => ledger.reconcile), (report) => ({ ok: report.ok, discrepancies: report.discrepancies }))),
      advance: (seconds) => clock.advance(`${seconds} seconds`),
      now: Effect.sync(() => clock.nowIso()),
      withFault: (fault, call) =>
        fault === undefined || options.faults !== true
          ? Effect.map(Effect.exit(call), (result) => ({ result, fired: false }))
          : Effect.map(Faults.armed(fault.kind, fault.at, call), ({ exit, fired }) => ({ result: exit as Exit.Exit<never, TargetError>, fired }))
    }
    return { target, context, clock }
  })
