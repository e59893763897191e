/**
 * Wire forms of marketplace records: snake_case, money as digit strings, field-compatible with the
 * reference's `bounty.v2` and `escrow.v2` schemas (engine extensions are named in `docs/`).
 */
import type { BountyRow, DisputeRow, EscrowRow, SubmissionRow } from "./BountyStore.js"

const amount = (value: bigint) => value.toString()

export const bounty = (row: BountyRow) => ({
  schema_version: "2" as const,
  bounty_id: row.bounty_id,
  requester_did: row.requester_did,
  title: row.title,
  description: row.description,
  reward: { amount_minor: amount(row.reward_minor), currency: row.currency },
  closure_type: row.closure_type,
  difficulty_scalar: row.difficulty_scalar,
  escrow_id: row.escrow_id,
  status: row.status,
  min_proof_tier: row.min_proof_tier,
  tags: [...row.tags],
  is_code_bounty: row.is_code_bounty,
  ...(row.test_harness_id === null ? {} : { test_harness_id: row.test_harness_id }),
  fee_policy_version: row.fee_policy_version,
  all_in_cost: {
    principal_minor: amount(row.principal_minor),
    platform_fee_minor: amount(row.platform_fee_minor),
    total_minor: amount(row.total_minor),
    currency: row.currency
  },
  created_at: row.created_at,
  ...(row.accepted_at === null ? {} : { accepted_at: row.accepted_at }),
  ...(row.worker_did === null ? {} : { accepted_by: row.worker_did }),
  ...(row.task_spec === null ? {} : { task_spec: row.task_spec }),
  metadata: row.metadata,
  // Engine extensions beyond bounty.v2:
  fee_policy: { id: row.fee_policy_id, version: row.fee_policy_version, hash_b64u: row.fee_policy_hash },
  worker_net_minor: amount(row.worker_net_minor),
  deadline_at: row.deadline_at,
  submission_attempts: row.submission_attempts,
  resolution: row.resolution,
  updated_at: row.updated_at
})
export type Bounty = ReturnType<typeof bounty>

export const escrow = (row: EscrowRow) => ({
  escrow_version: "2" as const,
  escrow_id: row.escrow_id,
  requester_did: row.requester_did,
  ...(row.worker_did === null ? {} : { agent_did: row.worker_did }),
  amount_minor: amount(row.amount_minor),
  currency: row.currency,
  status: row.status,
  created_at: row.created_at,
  updated_at: row.updated_at,
  held_at: row.created_at,
  ...(row.released_at === null ? {} : { released_at: row.released_at }),
  job_id: row.bounty_id,
  // Engine extension: the ledger hold that backs this escrow.
  hold_id: row.hold_id
})
export type Escrow = ReturnType<typeof escrow>

export const submission = (row: SubmissionRow) => ({
  submission_id: row.submission_id,
  bounty_id: row.bounty_id,
  worker_did: row.worker_did,
  status: row.status,
  proof_tier: row.proof_tier,
  proof_bundle_hash_b64u: row.proof_bundle_hash,
  verification: row.verification,
  result_summary: row.result_summary,
  proof_bundle_envelope: row.proof_bundle_envelope,
  commit_proof_envelope: row.commit_proof_envelope,
  artifacts: row.artifacts,
  agent_pack: row.agent_pack,
  created_at: row.created_at,
  updated_at: row.updated_at
})
export type Submission = ReturnType<typeof submission>

export const dispute = (row: DisputeRow) => ({
  dispute_id: row.dispute_id,
  bounty_id: row.bounty_id,
  submission_id: row.submission_id,
  opened_by: row.opened_by,
  reason: row.reason,
  status: row.status,
  escalated: row.escalated,
  deadline_at: row.deadline_at,
  outcome: row.outcome,
  worker_share_bps: row.worker_share_bps,
  resolved_by: row.resolved_by,
  resolution_note: row.resolution_note,
  created_at: row.created_at,
  resolved_at: row.resolved_at
})
export type Dispute = ReturnType<typeof dispute>
