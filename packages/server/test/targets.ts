/**
 * For every route that takes a body: who calls it, where, and a well-formed body aimed at a record in
 * a state where even a valid request is refused (a terminal bounty, a resolved dispute, an unfunded
 * requester), so a body that slipped through decoding still cannot write. The hostile-input tests
 * mutate these templates.
 */
import * as H from "./helpers.js"

export interface Target {
  readonly token: (f: H.Fixture) => string | undefined
  readonly path: (f: H.Fixture) => string
  /** A well-formed body; mutations of it are what the fuzz sends. */
  readonly template: (f: H.Fixture) => Record<string, unknown>
}

export const targets: Record<string, Target> = {
  createChallenge: { token: () => undefined, path: () => "/v1/auth/challenge", template: (f) => ({ did: f.requesterB.did, purpose: "register" }) },
  registerRequester: {
    token: () => undefined,
    path: () => "/v1/requesters/register",
    template: (f) => ({ requester_did: f.requesterB.did, challenge_id: "chl_unknown", proof: {} })
  },
  registerWorker: {
    token: () => undefined,
    path: () => "/v1/workers/register",
    template: (f) => ({ worker_did: f.worker2.did, challenge_id: "chl_unknown", proof: {}, ...H.workerProfile(9) })
  },
  rotateToken: { token: (f) => f.worker2.token, path: () => "/v1/auth/tokens/rotate", template: () => ({}) },
  revokeToken: { token: (f) => f.requesterB.token, path: () => "/v1/auth/tokens/tok_unknown/revoke", template: () => ({ reason: "lost" }) },
  updateWorkerSelf: { token: (f) => f.worker2.token, path: () => "/v1/workers/self", template: () => ({ status: "offline" }) },
  postBounty: {
    token: (f) => f.requesterPoor.token,
    path: () => "/v1/bounties",
    template: () => ({ ...H.researchBounty(), metadata: { note: "x" }, deadlines: { accept_within_seconds: 3600 }, idempotency_key: "fuzz-post" })
  },
  cancelBounty: { token: (f) => f.requesterA.token, path: (f) => `/v1/bounties/${f.approved.bountyId}/cancel`, template: () => ({ reason: "changed my mind" }) },
  acceptBounty: { token: (f) => f.worker2.token, path: (f) => `/v1/bounties/${f.approved.bountyId}/accept`, template: (f) => ({ worker_did: f.worker2.did }) },
  submitWork: {
    token: (f) => f.worker1.token,
    path: (f) => `/v1/bounties/${f.review.bountyId}/submit`,
    template: (f) => ({ proof_bundle_envelope: H.proofBundle(f.worker1.signer), result_summary: "done", artifacts: [] })
  },
  approveSubmission: {
    token: (f) => f.requesterA.token,
    path: (f) => `/v1/bounties/${f.approved.bountyId}/approve`,
    template: (f) => ({ submission_id: f.approved.submissionId, requester_did: f.requesterA.did, idempotency_key: "fuzz-approve" })
  },
  rejectSubmission: {
    token: (f) => f.requesterA.token,
    path: (f) => `/v1/bounties/${f.approved.bountyId}/reject`,
    template: (f) => ({ submission_id: f.approved.submissionId, reason: "late" })
  },
  simulateFees: {
    token: (f) => f.worker1.token,
    path: () => "/v1/fees/simulate",
    template: () => ({ product: "clawbounties", policy_id: "bounties_v1", amount_minor: "5000", currency: "USD", params: { is_code_bounty: true, closure_type: "test" } })
  },
  verifyEnvelope: { token: (f) => f.worker1.token, path: () => "/v1/verify", template: (f) => ({ envelope: H.proofBundle(f.worker1.signer), expected_type: "proof_bundle" }) },
  verifyProofBundle: { token: (f) => f.worker1.token, path: () => "/v1/verify/bundle", template: (f) => ({ envelope: H.proofBundle(f.worker1.signer) }) },
  verifyCommitProof: { token: (f) => f.worker1.token, path: () => "/v1/verify/commit-proof", template: () => ({ envelope: { envelope_type: "commit_proof" } }) },
  // Another principal's event: not found, nothing acknowledged.
  ackEvents: { token: (f) => f.requesterB.token, path: () => "/v1/events/ack", template: (f) => ({ event_ids: [f.eventIdOfA] }) },
  // A scheme no webhook may use; another principal's endpoint (not found).
  createWebhook: { token: (f) => f.requesterB.token, path: () => "/v1/webhooks", template: () => ({ url: "ftp://hooks.example/in", event_types: ["bounty.posted"] }) },
  rotateWebhookSecret: { token: (f) => f.requesterB.token, path: (f) => `/v1/webhooks/${f.webhookIdOfA}/rotate-secret`, template: () => ({}) },
  replayWebhook: { token: (f) => f.requesterB.token, path: (f) => `/v1/webhooks/${f.webhookIdOfA}/replay`, template: () => ({ after: "1", limit: 10 }) },
  resolveDispute: {
    token: () => H.OPERATOR_TOKEN,
    path: (f) => `/v1/operator/disputes/${f.resolved.disputeId}/resolve`,
    template: () => ({ outcome: "split", worker_share_bps: 5000, note: "half", idempotency_key: "fuzz-resolve" })
  },
  manualCredit: {
    token: () => H.OPERATOR_TOKEN,
    path: () => "/v1/operator/credits",
    template: (f) => ({ did: f.requesterB.did, amount_minor: "100", currency: "USD", reason: "fuzz", idempotency_key: "fuzz-credit" })
  },
  manualDebit: {
    token: () => H.OPERATOR_TOKEN,
    path: () => "/v1/operator/debits",
    template: (f) => ({ did: f.requesterB.did, amount_minor: "100", currency: "USD", reason: "fuzz", idempotency_key: "fuzz-debit" })
  },
  runSweep: { token: () => H.OPERATOR_TOKEN, path: () => "/v1/operator/sweep", template: () => ({}) }
}
