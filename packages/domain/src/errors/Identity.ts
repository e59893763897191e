/** Errors of identities, challenges, tokens and worker profiles. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/** The DID-control proof did not verify (bad signature, wrong signer, wrong challenge). */
export class DidProofInvalid extends Schema.TaggedError<DidProofInvalid>()("DidProofInvalid", {
  reason: Schema.String
}) {}

export type IdentityError = DidProofInvalid

export const identityEntries = {
  DidProofInvalid: { code: "DID_PROOF_INVALID", status: 401, summary: "The proof of DID control did not verify." }
} as const satisfies Section<IdentityError>
