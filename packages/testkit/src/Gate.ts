/**
 * The gate pack (spec CBT-US-025): deterministic readiness checks against a deployment, through its
 * public API only, ending in a recommendation with explicit blockers:
 *
 * - routes and health: `/health`, `/ready`, `/openapi.json` listing every route a client needs;
 * - auth refusals: no token, a malformed token, a wrong-role token, a participant on an operator
 *   route: each refused with the catalogue's status and code (fail-closed);
 * - one requester-closure job end to end (register, fund, post, accept, submit, review, approve)
 *   with the exact money moved;
 * - the job's events in both parties' feeds, gone once acknowledged;
 * - an invalid (tampered) submission refused fail-closed, the bounty left as it was;
 * - the test lane, once the engine has it (a post with `closure_type: "test"` is expected to be
 *   refused with CLOSURE_TYPE_NOT_SUPPORTED until then: reported, not a blocker);
 * - cleanup: a check that failed part-way leaves its bounty open, accepted or under review; the gate
 *   settles each (cancel, deliver, approve) and then checks that every bounty it opened is
 *   terminal and its requester holds nothing.
 *
 * How a check runs and is recorded is `GateSession`; the job's checks `GateJob`; the cleanup
 * `GateCleanup`.
 */
import { Settlement } from "@clawbounties/marketplace"
import { Effect, Exit, Option } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Artifacts from "./Artifacts.js"
import * as GateCleanup from "./GateCleanup.js"
import { jobChecks } from "./GateJob.js"
import { bountyBody, type Check, CheckFailed, expect, fail, fromTarget, make as makeSession, nowMs, type Options, retried } from "./GateSession.js"
import * as Keys from "./Keys.js"
import type { Principal } from "./Target.js"

export type { Check, CheckStatus, Options } from "./GateSession.js"
export type { Cleanup } from "./GateCleanup.js"

export interface Report {
  readonly schema: "clawbounties.gate.report.v1"
  readonly target: string
  readonly started_at: string
  readonly duration_ms: number
  readonly recommendation: "READY_FOR_PROD_GOVERNANCE_REVIEW" | "BLOCKED"
  readonly blockers: ReadonlyArray<{ readonly id: string; readonly detail: string }>
  readonly checks: ReadonlyArray<Check>
  readonly cleanup: GateCleanup.Cleanup
}

/** Routes a client of this engine depends on (OpenAPI paths). */
export const requiredPaths = [
  "/health", "/ready", "/v1/auth/challenge", "/v1/requesters/register", "/v1/workers/register",
  "/v1/bounties", "/v1/bounties/{bounty_id}", "/v1/bounties/{bounty_id}/accept", "/v1/bounties/{bounty_id}/submit",
  "/v1/bounties/{bounty_id}/approve", "/v1/bounties/{bounty_id}/reject", "/v1/bounties/{bounty_id}/cancel",
  "/v1/bounties/{bounty_id}/submissions", "/v1/submissions/{submission_id}", "/v1/escrows/{escrow_id}", "/v1/balances",
  "/v1/events", "/v1/events/ack", "/v1/operator/credits", "/v1/operator/reconcile", "/v1/operator/sweep"
] as const

export const run = (options: Options): Effect.Effect<Report> =>
  Effect.gen(function* () {
    const startedAt = yield* nowMs
    const startedIso = new Date(startedAt).toISOString()
    const session = makeSession(options, startedIso)
    const { check, checks, keySeed, ns, opened, raw, target } = session
    const cleanupOf = GateCleanup.make(session)

    // Routes and health ---------------------------------------------------------------------------
    yield* check("routes.health", "GET /health answers 200", true, Effect.flatMap(raw("GET", "/health"), (r) => expect(r.status === 200, `status ${r.status}`)))
    yield* check("routes.ready", "GET /ready answers 200 (database reachable)", true, Effect.flatMap(raw("GET", "/ready"), (r) => expect(r.status === 200, `status ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`)))
    yield* check("routes.openapi", "GET /openapi.json lists every route clients need", true, Effect.gen(function* () {
      const r = yield* raw("GET", "/openapi.json")
      yield* expect(r.status === 200, `status ${r.status}`)
      const paths = Object.keys((r.body.paths ?? {}) as Record<string, unknown>)
      const missing = requiredPaths.filter((p) => !paths.includes(p))
      yield* expect(missing.length === 0, `missing: ${missing.join(", ")}`)
      return `${paths.length} paths`
    }))

    // Auth refusals ---------------------------------------------------------------------------------
    const refusal = (id: string, title: string, method: "GET" | "POST", path: string, token: string | null, status: number, code: string, body?: unknown) =>
      check(id, title, true, Effect.flatMap(raw(method, path, token, body), (r) =>
        expect(r.status === status && r.body.error === code, `expected ${status} ${code}, got ${r.status} ${String(r.body.error)}`)))
    yield* refusal("auth.missing_token", "POST /v1/bounties without a token is refused", "POST", "/v1/bounties", null, 401, "UNAUTHORIZED", {})
    yield* refusal("auth.malformed_token", "A malformed bearer token is refused", "GET", "/v1/bounties", "not-a-token", 401, "UNAUTHORIZED")

    // Principals for the rest -----------------------------------------------------------------------
    const parties = yield* check("auth.register", "A requester and a worker register by signed DID challenges", true, Effect.gen(function* () {
      const requester = yield* fromTarget(target.register(Keys.derive(keySeed, "requester"), "requester"), "register requester")
      const worker = yield* fromTarget(target.register(Keys.derive(keySeed, "worker"), "worker"), "register worker")
      return { requester, worker, workerKey: Keys.derive(keySeed, "worker") }
    }))
    if (parties._tag === "Some") {
      // A gate interrupted part-way (Ctrl-C) still settles what it opened before it stops.
      yield* Effect.addFinalizer((exit) => (Exit.isInterrupted(exit) ? cleanupOf.settleOpened(parties.value) : Effect.void))
      const { requester, worker } = parties.value
      yield* refusal("auth.wrong_role", "A worker token cannot post a bounty", "POST", "/v1/bounties", worker.token, 403, "FORBIDDEN", bountyBody(ns, "wrong-role"))
      yield* refusal("auth.operator_route", "A requester token cannot reconcile the ledger", "GET", "/v1/operator/reconcile", requester.token, 403, "FORBIDDEN")
    }

    // The operator token, checked once before anything needs it: a refused token is one blocker
    // that says so, rather than a failed funding, post, lane and reconcile each.
    const given = options.operatorToken === undefined ? undefined : ({ did: "operator", role: "operator", token: options.operatorToken } satisfies Principal)
    const operator = given === undefined ? undefined : Option.getOrUndefined(yield* check("auth.operator_token", "The operator token is accepted", true,
      Effect.as(Effect.mapError(retried(target.balances(given, Settlement.PLATFORM_FEES)), (e) =>
        new CheckFailed(e.status === 401 || e.status === 403
          ? `the operator token was refused: ${e.status} ${e.code} (check the token given to the gate)`
          : `the operator token could not be checked: ${e.code} (${e.status ?? "no reply"}) ${e.message}`)), given)))

    // One job end to end ---------------------------------------------------------------------------
    if (parties._tag === "None") {
      yield* check("job.requester_closure", "A requester-closure job end to end", true, fail("registration failed"))
    } else if (operator === undefined) {
      yield* check("job.requester_closure", "A requester-closure job end to end", true,
        fail(given === undefined ? "no operator token: the gate cannot fund its requester" : "the operator token was not accepted: the gate cannot fund its requester"))
    } else {
      yield* jobChecks(session, parties.value, operator)
    }

    // Cleanup: what failed checks left part-way is settled, and the parties' money given back.
    const cleanup: GateCleanup.Cleanup = parties._tag === "Some"
      ? yield* cleanupOf.run(parties.value, operator)
      : { bounties: [], settled: [], requester_held_minor: null, returned_minor: null, ok: opened.length === 0 }
    if (operator !== undefined) {
      yield* check("ledger.reconcile", "The ledger reconciles after the gate", true, Effect.flatMap(fromTarget(target.reconcile(operator), "reconcile"), (r) =>
        expect(r.ok, r.discrepancies.slice(0, 3).map((d) => `${d.kind}: ${d.detail}`).join("; "))))
    }

    const blockers = checks.filter((c) => c.required && c.status === "fail").map((c) => ({ id: c.id, detail: c.detail }))
    return {
      schema: "clawbounties.gate.report.v1",
      target: options.url,
      started_at: startedIso,
      duration_ms: (yield* nowMs) - startedAt,
      recommendation: blockers.length === 0 ? "READY_FOR_PROD_GOVERNANCE_REVIEW" : "BLOCKED",
      blockers,
      checks,
      cleanup
    } satisfies Report
  }).pipe(Effect.scoped)

export const markdown = (report: Report): string => [
  `# Gate report: ${report.recommendation}`,
  "",
  `Target: ${report.target}. Started ${report.started_at}, ${report.duration_ms} ms.`,
  "",
  report.blockers.length === 0 ? "No blockers." : `## Blockers\n\n${report.blockers.map((b) => `- **${b.id}**: ${Artifacts.oneLine(b.detail)}`).join("\n")}`,
  "",
  "## Checks",
  "",
  "| check | required | status | ms | detail |",
  "|---|---|---|---|---|",
  ...report.checks.map((c) => `| ${c.id} | ${c.required ? "yes" : "no"} | ${c.status} | ${c.ms} | ${Artifacts.tableCell(c.detail)} |`),
  "",
  `Cleanup: ${report.cleanup.ok ? "every opened bounty is terminal, nothing held" : "INCOMPLETE"} (${report.cleanup.bounties.map((b) => `${b.bounty_id} ${b.status}`).join(", ") || "no bounties"}).`,
  ...(report.cleanup.returned_minor === null ? [] : [`Returned to world:manual: ${report.cleanup.returned_minor.requester} from the requester, ${report.cleanup.returned_minor.worker} from the worker (minor units).`]),
  ...(report.cleanup.settled.length === 0 ? [] : [`Settled after a failed check: ${report.cleanup.settled.map((b) => `${b.bounty_id} from ${b.from}`).join(", ")}.`]),
  ""
].join("\n")

/** Writes `gate-report.json` and `gate-report.md` under `<root>/<timestamp>-gate/`; returns the directory. */
export const write = (report: Report, root: string = Artifacts.DEFAULT_ROOT): string => {
  const dir = join(root, `${Artifacts.stamp(report.started_at)}-gate`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "gate-report.json"), Artifacts.json(report, 2) + "\n")
  writeFileSync(join(dir, "gate-report.md"), markdown(report))
  return dir
}
