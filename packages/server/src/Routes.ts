/**
 * The API's routes (spec B3, A3.2, A3.3; issue 6), one module per concept under `routes/`. Each
 * handler decodes nothing itself (the app does, with the route's Schemas) and runs one engine
 * command; party checks live in the commands.
 */
import type { Route } from "./Route.js"
import * as Bounties from "./routes/Bounties.js"
import * as Events from "./routes/Events.js"
import * as Health from "./routes/Health.js"
import * as Identities from "./routes/Identities.js"
import * as Money from "./routes/Money.js"
import * as Operators from "./routes/Operators.js"
import * as Verification from "./routes/Verification.js"
import * as Webhooks from "./routes/Webhooks.js"
import * as Workers from "./routes/Workers.js"

/**
 * Every route the API serves (besides `/openapi.json` and `/docs`, which describe these), in the
 * order the API reference lists them.
 */
export const routes: ReadonlyArray<Route> = [
  Health.health, Health.ready,
  Identities.challenge, Identities.registerRequester, Identities.registerWorker, Identities.listTokens,
  Identities.rotateToken, Identities.revokeToken,
  Workers.listWorkers, Workers.workerSelf, Workers.updateWorkerSelf, Workers.getWorker,
  Bounties.postBounty, Bounties.listBounties, Bounties.getBounty, Bounties.cancelBounty, Bounties.acceptBounty,
  Bounties.submitWork, Bounties.approveSubmission, Bounties.rejectSubmission, Bounties.listSubmissions,
  Bounties.getSubmission,
  Money.getEscrow, Money.getBalances, Money.getHistory, Money.simulateFees,
  Verification.verifyEnvelope, Verification.verifyBundle, Verification.verifyCommitProof,
  Events.pullEvents, Events.ackEvents,
  Webhooks.createWebhook, Webhooks.listWebhooks, Webhooks.deleteWebhook, Webhooks.rotateWebhookSecret,
  Webhooks.listWebhookDeliveries, Webhooks.replayWebhook,
  Operators.getDispute, Operators.disputeQueue, Operators.resolveDispute, Operators.manualCredit, Operators.manualDebit,
  Operators.reconcile, Operators.auditLog, Operators.sweepStatus, Operators.runSweep
]
