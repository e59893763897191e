/**
 * May this worker accept this bounty? Checked inside the accept transaction, against the worker's
 * stored profile: the reference let anyone accept anything, including their own bounties.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect, Option } from "effect"
import type { BountyRow } from "./BountyStore.js"
import * as Workers from "./Workers.js"

export type JobType = "code" | "research" | "agent_pack"

/** The job type a bounty represents (spec B1): code bounties, agent packs by tag, otherwise research. */
export const jobTypeOf = (bounty: Pick<BountyRow, "is_code_bounty" | "tags">): JobType =>
  bounty.is_code_bounty ? "code" : bounty.tags.includes("agent_pack") ? "agent_pack" : "research"

export const check = Effect.fnUntraced(function* (workerDid: string, bounty: BountyRow) {
  const fail = (reason: ErrorCatalogue.WorkerNotEligible["reason"]) =>
    Effect.fail(new ErrorCatalogue.WorkerNotEligible({ bounty_id: bounty.bounty_id, reason }))
  if (workerDid === bounty.requester_did) return yield* fail("self_dealing")
  if (bounty.requested_worker_did !== null && bounty.requested_worker_did !== workerDid) {
    return yield* fail("direct_hire_mismatch")
  }
  const profile = yield* Workers.findByDid(workerDid)
  if (Option.isNone(profile)) return yield* new ErrorCatalogue.WorkerNotRegistered({ did: workerDid })
  const worker = profile.value
  if (worker.status !== "online") return yield* fail("unavailable")
  if (!worker.capabilities.job_types.includes(jobTypeOf(bounty))) return yield* fail("job_type_not_offered")
  if (bounty.worker_net_minor < worker.pricing.price_floor_minor) return yield* fail("below_price_floor")
})
