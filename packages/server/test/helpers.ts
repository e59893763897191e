/**
 * A real server on a loopback socket (port 0) for the tests, over SQLite (a file in a temp dir) or
 * PostgreSQL (a database of its own), with a known operator token, and a small JSON client with the
 * journey's steps (registration by signed challenge, funding, signed proof bundles), and raw bytes
 * for requests no HTTP client would send.
 */
import { SqlClient } from "@effect/sql"
import { Tokens, Webhooks } from "@clawbounties/marketplace"
import { EventChain, Hash, Sign } from "@clawbounties/verify"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as Engine from "../src/Engine.js"
import * as RateLimits from "../src/RateLimits.js"
import * as Server from "../src/Server.js"

export const OPERATOR_TOKEN = "cbt_operator_test-operator-token-that-is-long-enough-0001"

export const operatorLayer = Layer.succeed(Tokens.OperatorToken, {
  hash: Option.some(Buffer.from(Tokens.hashToken(OPERATOR_TOKEN), "base64url"))
})

export interface TestServer extends Server.Running {
  /** Removes the temp directory (SQLite) after closing. */
  readonly cleanup: () => Promise<void>
}

export const startSqlite = async (
  options: Partial<Omit<Server.Options, "engine">> = {},
  engine: Omit<Engine.Options, "store" | "operatorToken"> = {}
): Promise<TestServer> => {
  const dir = mkdtempSync(join(tmpdir(), "cbt-server-"))
  const running = await start({ _tag: "sqlite", filename: join(dir, "test.db") }, options, engine)
  return { ...running, cleanup: async () => { await running.close(); rmSync(dir, { recursive: true, force: true }) } }
}

/**
 * Rate limits no test of something else reaches (the tests send hundreds of requests a second from
 * one address and a few principals), so every request still goes through the limiter.
 */
export const generousLimits: RateLimits.Settings = {
  ...RateLimits.defaults,
  expensive: { perMinute: 1_000_000, burst: 1_000_000 },
  anonymous: { perMinute: 1_000_000, burst: 1_000_000 },
  write: { perMinute: 1_000_000, burst: 1_000_000 }
}

/**
 * A server on `store` with the test operator token; `options` override the defaults (no sweeps,
 * {@link generousLimits}), `engine` the engine's parts (fixed identity settings, say).
 */
export const start = async (
  store: Engine.Store,
  options: Partial<Omit<Server.Options, "engine">> = {},
  engine: Omit<Engine.Options, "store" | "operatorToken"> = {}
): Promise<TestServer> => {
  const running = await Server.start({
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: 256 * 1024,
    scheduler: { interval: "1 hour", enabled: false },
    shutdownGrace: "2 seconds",
    rateLimits: Effect.runSync(RateLimits.make(generousLimits)),
    ...options,
    // Webhooks to 127.0.0.1 allowed, as `WEBHOOK_ALLOW_PRIVATE=true` does: tests deliver to local servers.
    engine: { webhooks: Webhooks.layerWith({ allowPrivate: true }), ...engine, store, operatorToken: operatorLayer }
  })
  return { ...running, cleanup: () => running.close() }
}

/** An operation's response in `/openapi.json`: error responses are shared, referred to in `components.responses`. */
export const documentedResponse = (doc: any, response: any): any =>
  typeof response?.$ref === "string" ? doc.components.responses[response.$ref.slice("#/components/responses/".length)] : response

export interface Reply {
  readonly status: number
  readonly body: any
  readonly headers: Headers
}

export interface CallOptions {
  readonly token?: string | undefined
  /** A JSON body; `raw` sends text as is. */
  readonly body?: unknown
  readonly raw?: string | Uint8Array
  readonly contentType?: string | null
  readonly headers?: Record<string, string>
}

export const client = (baseUrl: string) =>
  async (method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: string | Uint8Array | undefined
    if (options.raw !== undefined) body = options.raw
    else if (options.body !== undefined) body = JSON.stringify(options.body)
    const contentType = options.contentType === undefined ? (body === undefined ? null : "application/json") : options.contentType
    if (contentType !== null) headers["content-type"] = contentType
    const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON (the docs page)
    }
    return { status: response.status, body: parsed, headers: response.headers }
  }

export type Call = ReturnType<typeof client>

export const signer = (n: number): Sign.Signer => Sign.signerFromSeed(new Uint8Array(32).fill(n))

const nowIso = () => new Date().toISOString()

/** Challenge, signed answer, registration: the requester's token. */
export const registerRequester = async (call: Call, who: Sign.Signer): Promise<string> => {
  const challenge = await call("POST", "/v1/auth/challenge", { body: { did: who.did, purpose: "register" } })
  if (challenge.status !== 201) throw new Error(`challenge: ${JSON.stringify(challenge.body)}`)
  const proof = Sign.challengeResponse(who, { nonce: challenge.body.nonce, message: challenge.body.messages.requester, audience: challenge.body.audience }, { issuedAt: nowIso() })
  const registered = await call("POST", "/v1/requesters/register", {
    body: { requester_did: who.did, challenge_id: challenge.body.challenge_id, proof }
  })
  if (registered.status !== 201) throw new Error(`register requester: ${JSON.stringify(registered.body)}`)
  return registered.body.auth.token
}

export const workerProfile = (n: number) => ({
  worker_version: "openclaw-worker/0.1.0",
  listing: { name: `Worker ${n}`, headline: "Fast TypeScript fixes", tags: ["typescript", "testing"] },
  capabilities: { job_types: ["code", "research", "agent_pack"], languages: ["ts"], max_minutes: 20 },
  offers: { skills: ["did-work"], mcp: [{ name: "github", description: "Reads repos" }] },
  pricing: { price_floor_minor: "0" },
  availability: { mode: "manual", paused: false }
})

export const registerWorker = async (call: Call, who: Sign.Signer, n = 1): Promise<{ token: string; workerId: string }> => {
  const challenge = await call("POST", "/v1/auth/challenge", { body: { did: who.did, purpose: "register" } })
  const proof = Sign.challengeResponse(who, { nonce: challenge.body.nonce, message: challenge.body.messages.worker, audience: challenge.body.audience }, { issuedAt: nowIso() })
  const registered = await call("POST", "/v1/workers/register", {
    body: { worker_did: who.did, challenge_id: challenge.body.challenge_id, proof, ...workerProfile(n) }
  })
  if (registered.status !== 201) throw new Error(`register worker: ${JSON.stringify(registered.body)}`)
  return { token: registered.body.auth.token, workerId: registered.body.worker_id }
}

export const fund = async (call: Call, did: string, amountMinor: string, key: string) => {
  const credited = await call("POST", "/v1/operator/credits", {
    token: OPERATOR_TOKEN,
    body: { did, amount_minor: amountMinor, currency: "USD", reason: "test funding", idempotency_key: key }
  })
  if (credited.status !== 201) throw new Error(`fund: ${JSON.stringify(credited.body)}`)
  return credited.body
}

/** A requester funded with `amountMinor` and a worker, registered from seeds `n` and `n + 1`. */
export const fundedPair = async (call: Call, n: number, amountMinor = "100000") => {
  const requester = signer(n)
  const worker = signer(n + 1)
  const requesterToken = await registerRequester(call, requester)
  const { token: workerToken } = await registerWorker(call, worker, n + 1)
  await fund(call, requester.did, amountMinor, `pair-${n}-${requester.did}`)
  return { requester, worker, requesterToken, workerToken }
}

let runs = 0
/** A signed proof bundle with a two-event chain, by `who`. */
export const proofBundle = (who: Sign.Signer) => {
  const runId = `run_${++runs}_${Date.now()}`
  const at = nowIso()
  const chain = EventChain.build(runId, [
    { event_id: "evt_1", event_type: "run_start", timestamp: at, payload_hash_b64u: Hash.sha256B64uOfString("start") },
    { event_id: "evt_2", event_type: "run_end", timestamp: at, payload_hash_b64u: Hash.sha256B64uOfString("end") }
  ])
  return Sign.proofBundle(who, { bundle_id: `bundle_${runId}`, event_chain: chain }, { issuedAt: at })
}

let researchPosts = 0
/** A research bounty's body under a fresh idempotency key. */
export const researchBounty = (amountMinor = "5000") => ({
  idempotency_key: `post-${++researchPosts}`,
  title: "Research best approach for X",
  description: "Summarize options, tradeoffs, and recommend a path.",
  reward: { amount_minor: amountMinor, currency: "USD" },
  closure_type: "requester",
  difficulty_scalar: 1.0,
  tags: ["research"]
})

/** Every table and its rows, as one string: equal before and after means nothing was written. */
export const snapshot = (running: Server.Running): Promise<string> =>
  running.runtime.runPromise(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql.onDialectOrElse({
      pg: () => sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      orElse: () => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
    })
    const parts: Array<string> = []
    for (const { name } of tables) {
      const rows = yield* sql.unsafe(`SELECT * FROM ${name}`)
      parts.push(`${name}:${rows.length}:${JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`)
    }
    return parts.join("\n")
  }))

/** Row counts per table. */
export const rowCounts = (running: Server.Running): Promise<Record<string, number>> =>
  snapshot(running).then((text) =>
    Object.fromEntries(text.split("\n").map((line) => {
      const [name, count] = line.split(":")
      return [name!, Number(count)]
    }))
  )

export interface Party {
  readonly signer: Sign.Signer
  readonly did: string
  readonly token: string
}

export interface Fixture {
  readonly requesterA: Party
  readonly requesterB: Party
  /** A requester with no money. */
  readonly requesterPoor: Party
  readonly worker1: Party & { readonly workerId: string }
  readonly worker2: Party & { readonly workerId: string }
  readonly open: { readonly bountyId: string; readonly escrowId: string }
  readonly review: { readonly bountyId: string; readonly escrowId: string; readonly submissionId: string }
  readonly approved: { readonly bountyId: string; readonly submissionId: string }
  readonly disputed: { readonly bountyId: string; readonly disputeId: string; readonly submissionId: string }
  readonly resolved: { readonly bountyId: string; readonly disputeId: string }
  readonly tokenIdOfA: string
  /** An event addressed to requester A, not acknowledged. */
  readonly eventIdOfA: string
  /** requesterA's webhook endpoint (to 127.0.0.1: the test server allows private addresses). */
  readonly webhookIdOfA: string
}

const expectStatus = (reply: Reply, status: number, what: string) => {
  if (reply.status !== status) throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return reply.body
}

/** Records in every state the authorization and fuzz tests aim at, all made over HTTP. */
export const buildFixture = async (call: Call, seed: number): Promise<Fixture> => {
  const party = async (n: number): Promise<Party> => {
    const s = signer(seed + n)
    return { signer: s, did: s.did, token: await registerRequester(call, s) }
  }
  const requesterA = await party(1)
  const requesterB = await party(2)
  const requesterPoor = await party(3)
  const worker = async (n: number) => {
    const s = signer(seed + n)
    const { token, workerId } = await registerWorker(call, s, n)
    return { signer: s, did: s.did, token, workerId }
  }
  const worker1 = await worker(4)
  const worker2 = await worker(5)
  await fund(call, requesterA.did, "1000000", `fixture-${seed}-A`)
  await fund(call, requesterB.did, "100000", `fixture-${seed}-B`)

  let posts = 0
  const post = async () =>
    expectStatus(await call("POST", "/v1/bounties", { token: requesterA.token, body: { ...researchBounty(), idempotency_key: `fixture-${seed}-${++posts}` } }), 201, "post")
  const toReview = async () => {
    const posted = await post()
    expectStatus(await call("POST", `/v1/bounties/${posted.bounty_id}/accept`, { token: worker1.token, body: {} }), 200, "accept")
    const submitted = expectStatus(await call("POST", `/v1/bounties/${posted.bounty_id}/submit`, {
      token: worker1.token,
      body: { proof_bundle_envelope: proofBundle(worker1.signer) }
    }), 201, "submit")
    return { bountyId: posted.bounty_id as string, escrowId: posted.escrow_id as string, submissionId: submitted.submission_id as string }
  }
  const reject = async (bountyId: string, submissionId: string) =>
    expectStatus(await call("POST", `/v1/bounties/${bountyId}/reject`, {
      token: requesterA.token,
      body: { submission_id: submissionId, reason: "missing deliverables" }
    }), 200, "reject").dispute_id as string

  const openPosted = await post()
  const review = await toReview()
  const approvedBounty = await toReview()
  expectStatus(await call("POST", `/v1/bounties/${approvedBounty.bountyId}/approve`, {
    token: requesterA.token,
    body: { submission_id: approvedBounty.submissionId }
  }), 200, "approve")
  const disputedBounty = await toReview()
  const disputeId = await reject(disputedBounty.bountyId, disputedBounty.submissionId)
  const resolvedBounty = await toReview()
  const resolvedDispute = await reject(resolvedBounty.bountyId, resolvedBounty.submissionId)
  expectStatus(await call("POST", `/v1/operator/disputes/${resolvedDispute}/resolve`, {
    token: OPERATOR_TOKEN,
    body: { outcome: "requester_refund" }
  }), 200, "resolve")
  const tokens = expectStatus(await call("GET", "/v1/auth/tokens", { token: requesterA.token }), 200, "tokens")
  const events = expectStatus(await call("GET", "/v1/events", { token: requesterA.token }), 200, "events")
  // Nothing listens there, and the tests' servers make no deliveries unless a test runs them.
  const webhook = expectStatus(await call("POST", "/v1/webhooks", { token: requesterA.token, body: { url: "http://127.0.0.1:9/fixture" } }), 201, "webhook")

  return {
    requesterA,
    requesterB,
    requesterPoor,
    worker1,
    worker2,
    open: { bountyId: openPosted.bounty_id, escrowId: openPosted.escrow_id },
    review,
    approved: { bountyId: approvedBounty.bountyId, submissionId: approvedBounty.submissionId },
    disputed: { bountyId: disputedBounty.bountyId, disputeId, submissionId: disputedBounty.submissionId },
    resolved: { bountyId: resolvedBounty.bountyId, disputeId: resolvedDispute },
    tokenIdOfA: tokens.tokens[0].token_id,
    eventIdOfA: events.events[0].event_id,
    webhookIdOfA: webhook.webhook_id
  }
}

/** Sends `text` as raw bytes on a fresh connection; reads until the server closes it or answers in full. */
export const rawExchange = (port: number, text: string): Promise<{ readonly status: number; readonly headers: string; readonly body: string }> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let received = ""
    const finish = () => {
      const end = received.indexOf("\r\n\r\n")
      if (end < 0) return reject(new Error(`no response head in ${JSON.stringify(received.slice(0, 200))}`))
      resolve({ status: Number(received.split(" ", 2)[1]), headers: received.slice(0, end).toLowerCase(), body: received.slice(end + 4) })
    }
    socket.setEncoding("latin1")
    socket.on("data", (chunk: string) => {
      received += chunk
      const end = received.indexOf("\r\n\r\n")
      const length = /content-length: (\d+)/i.exec(received.slice(0, end))
      if (end >= 0 && length !== null && received.length - end - 4 >= Number(length[1])) {
        socket.destroy()
        finish()
      }
    })
    socket.on("end", finish)
    socket.on("error", reject)
    socket.write(text, "latin1")
  })
