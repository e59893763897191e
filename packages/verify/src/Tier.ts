/**
 * Proof tiers: how strong the evidence behind a verified bundle is.
 *
 * The tier is an enum. Two separate functions give it an order, because the reference has two
 * orders that disagree: {@link precedence} (which tier wins when several kinds of evidence
 * verify: tee > sandbox > gateway > witnessed_web > self > unknown) and {@link pohTier} (the
 * numeric code the reference puts on the wire: unknown 0, self 1, gateway 2, sandbox 3, tee 4,
 * witnessed_web 5). Never compare tiers by their numeric code.
 */
export const PROOF_TIERS = ["unknown", "self", "gateway", "sandbox", "tee", "witnessed_web"] as const
export type ProofTier = (typeof PROOF_TIERS)[number]

const POH: Record<ProofTier, number> = { unknown: 0, self: 1, gateway: 2, sandbox: 3, tee: 4, witnessed_web: 5 }
const PRECEDENCE: Record<ProofTier, number> = { unknown: 0, self: 1, witnessed_web: 2, gateway: 3, sandbox: 4, tee: 5 }

/** The reference's numeric `poh_tier`. */
export const pohTier = (tier: ProofTier): number => POH[tier]

/** The tier a numeric `poh_tier` stands for. */
export const fromPohTier = (n: number): ProofTier | undefined => PROOF_TIERS.find((t) => POH[t] === n)

/** Rank for "which evidence is stronger": higher wins. */
export const precedence = (tier: ProofTier): number => PRECEDENCE[tier]

/** The stronger of two tiers by {@link precedence}. */
export const max = (a: ProofTier, b: ProofTier): ProofTier => (precedence(b) > precedence(a) ? b : a)

/** True when `tier` is at least `minimum` by {@link precedence}. */
export const atLeast = (tier: ProofTier, minimum: ProofTier): boolean => precedence(tier) >= precedence(minimum)

/** The evidence-independent "how complete is the record" axis of the reference. */
export type TrustTier = "unknown" | "basic" | "verified" | "attested" | "full"
