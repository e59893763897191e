/** A bounty's life: post, accept, submit, approve or reject, and its submissions. */
import { Bounties, Closure, Requests, Submissions } from "@clawbounties/marketplace"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole, bountyErrors, ledgerErrors } from "./Common.js"

export const postBounty = route({
  method: "POST",
  path: "/v1/bounties",
  operationId: "postBounty",
  tag: "Bounties",
  summary: "Post a bounty: fees are quoted and snapshotted, and the buyer total is held in escrow.",
  auth: ["requester"],
  body: Requests.PostBounty,
  idempotent: true,
  status: 201,
  response: Bounties.PostResponse,
  errors: [
    "Forbidden", "UnsupportedCurrency", "ClosureTypeNotSupported", "InvalidRequest", "RewardBelowMinimum", "PolicyNotFound",
    "RuleNotFound", "IdempotencyConflict", "InsufficientFunds", "UnknownAccount", "InvalidAccount", "CurrencyMismatch",
    "HoldNotFound", "HoldAlreadyResolved", "HoldOverspent", "AmountOutOfRange", "UnbalancedEntry", "InvalidPosting"
  ],
  handler: ({ actor, body }) => Bounties.post(actor, body)
})

export const listBounties = route({
  method: "GET",
  path: "/v1/bounties",
  operationId: "listBounties",
  tag: "Bounties",
  summary: "Bounties: open ones by default (filters status, is_code_bounty, tag); `mine=true` for those the caller posted.",
  description: "Without `status` (and without `mine`), workers and requesters get open bounties; operators get bounties of every status. `mine=true` lists the bounties the caller posted, of every status unless `status` is given (a worker's are empty: it finds the bounties it holds with `status`). Other callers see a bounty that is not open only when they are its requester or its worker.",
  auth: anyRole,
  query: Schemas.ListBountiesQuery,
  status: 200,
  response: Schemas.BountyList,
  errors: ["InvalidRequest"],
  handler: ({ actor, query }) =>
    Bounties.list(actor, {
      status: query.status,
      isCodeBounty: query.is_code_bounty,
      tag: query.tag,
      mine: query.mine,
      cursor: query.cursor,
      limit: query.limit
    })
})

export const getBounty = route({
  method: "GET",
  path: "/v1/bounties/{bounty_id}",
  operationId: "getBounty",
  tag: "Bounties",
  summary: "One bounty: open ones to everyone, others to their parties and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Bounty,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Bounties.get(actor, params.bounty_id!)
})

export const cancelBounty = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/cancel",
  operationId: "cancelBounty",
  tag: "Bounties",
  summary: "Cancel an open bounty (its requester, before anyone accepts): the hold is voided.",
  auth: ["requester"],
  body: Requests.Cancel,
  idempotent: true,
  status: 200,
  response: Schemas.CancelResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "BountyNotOpen", "InvalidTransition"],
  handler: ({ actor, params, body }) => Bounties.cancel(actor, params.bounty_id!, body)
})

export const acceptBounty = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/accept",
  operationId: "acceptBounty",
  tag: "Bounties",
  summary: "Accept an open bounty (one worker wins a race; eligibility is checked against the profile).",
  auth: ["worker"],
  body: Requests.Accept,
  idempotent: true,
  status: 200,
  response: Bounties.AcceptResponse,
  errors: [
    // Idempotent by state: a key is validated, never stored, so it cannot conflict. Accepting
    // moves no money, so none of the ledger's errors applies.
    "NotFound", "InvalidAccount", "UnsupportedCurrency", "InvalidRequest", "Forbidden", "BountyNotOpen", "DeadlinePassed", "BountyAlreadyAccepted", "WorkerNotEligible",
    "WorkerNotRegistered", "InvalidTransition"
  ],
  handler: ({ actor, params, body }) => Bounties.accept(actor, params.bounty_id!, body)
})

export const submitWork = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/submit",
  operationId: "submitWork",
  tag: "Bounties",
  summary: "Submit signed evidence (proof bundle; commit proof for code bounties; artifacts for agent packs).",
  description: "Verified in strict mode before anything is stored. An invalid submission is stored with its reasons (SUBMISSION_INVALID) and counts as an attempt.",
  auth: ["worker"],
  body: Schemas.SubmitRequest,
  idempotent: true,
  status: 201,
  response: Submissions.SubmitResponse,
  errors: [
    ...bountyErrors, "Forbidden", "BountyNotAssigned", "SubmissionAlreadyUnderReview", "InvalidTransition", "DeadlinePassed",
    "SubmissionLimitReached", "SubmissionInvalid", "InvalidRequest"
  ],
  handler: ({ actor, params, body }) => Submissions.submit(actor, params.bounty_id!, body)
})

export const approveSubmission = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/approve",
  operationId: "approveSubmission",
  tag: "Bounties",
  summary: "Approve the submission under review: the worker is paid from the escrow, the fee goes to the platform.",
  auth: ["requester"],
  body: Requests.Approve,
  idempotent: true,
  status: 200,
  response: Closure.ApproveResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "SubmissionNotPendingReview", "InvalidTransition"],
  handler: ({ actor, params, body }) => Closure.approve(actor, params.bounty_id!, body)
})

export const rejectSubmission = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/reject",
  operationId: "rejectSubmission",
  tag: "Bounties",
  summary: "Reject the submission under review: a dispute opens and the escrow stays held.",
  auth: ["requester"],
  body: Requests.Reject,
  idempotent: true,
  status: 200,
  response: Closure.RejectResponse,
  errors: [...bountyErrors, "Forbidden", "SubmissionNotPendingReview", "InvalidTransition", "DeadlinePassed", "InvalidRequest"],
  handler: ({ actor, params, body }) => Closure.reject(actor, params.bounty_id!, body)
})

export const listSubmissions = route({
  method: "GET",
  path: "/v1/bounties/{bounty_id}/submissions",
  operationId: "listSubmissions",
  tag: "Submissions",
  summary: "A bounty's submissions: all to its requester and operators, its own to a worker.",
  auth: anyRole,
  status: 200,
  response: Schemas.SubmissionList,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Submissions.listForBounty(actor, params.bounty_id!)
})

export const getSubmission = route({
  method: "GET",
  path: "/v1/submissions/{submission_id}",
  operationId: "getSubmission",
  tag: "Submissions",
  summary: "One submission, to the bounty's requester, the submitting worker and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Submission,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Submissions.get(actor, params.submission_id!)
})
