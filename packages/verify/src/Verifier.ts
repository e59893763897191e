/**
 * The verifier as an Effect service: the three entry points the marketplace calls, in strict mode,
 * with the instant of verification taken from `Clock` (so tests control it with `TestClock`) and
 * the Ed25519 backend from the {@link Ed25519.Ed25519} service.
 *
 * - `proofBundle`: a `proof_bundle` envelope → VALID/INVALID, proof tier, per-receipt results.
 * - `commitProof`: a commit proof in either format (envelope or legacy m1).
 * - `challengeResponse`: a `message_signature` envelope over a server challenge (DID registration).
 *
 * Results are values; these effects do not fail.
 */
import { Clock, Config, Context, Effect, Layer } from "effect"
import * as CommitProof from "./CommitProof.js"
import * as DidKey from "./DidKey.js"
import * as Ed25519 from "./Ed25519.js"
import * as Envelope from "./Envelope.js"
import * as ProofBundle from "./ProofBundle.js"
import type { Mode } from "./Result.js"

export interface Settings {
  readonly mode?: Mode
  readonly ttlSkewMs?: number
  readonly gatewaySignerDids?: ReadonlyArray<string>
  readonly attestationSignerDids?: ReadonlyArray<string>
  readonly executionAttestationSignerDids?: ReadonlyArray<string>
  readonly repoClaimIds?: CommitProof.Options["repoClaimIds"]
}

type Extra<O> = Omit<O, "verifyAt" | "backend" | "mode">

export interface Service {
  readonly proofBundle: (input: unknown, extra?: Extra<ProofBundle.Options>) => Effect.Effect<ProofBundle.ProofBundleResult>
  readonly commitProof: (input: unknown, extra?: Extra<CommitProof.Options>) => Effect.Effect<CommitProof.CommitProofResult>
  readonly challengeResponse: (input: unknown, challenge: Envelope.Challenge) => Effect.Effect<Envelope.EnvelopeResult>
}

export class Verifier extends Context.Tag("@clawbounties/verify/Verifier")<Verifier, Service>() {}

export const make = (settings: Settings): Effect.Effect<Service, never, Ed25519.Ed25519> =>
  Effect.gen(function* () {
    const backend = yield* Ed25519.Ed25519
    const base = {
      mode: settings.mode ?? "strict",
      backend,
      ...(settings.ttlSkewMs === undefined ? {} : { ttlSkewMs: settings.ttlSkewMs })
    } as const
    return {
      proofBundle: Effect.fn("Verifier.proofBundle")(function* (input: unknown, extra?: Extra<ProofBundle.Options>) {
        const verifyAt = yield* Clock.currentTimeMillis
        const result = ProofBundle.verify(input, {
          ...base,
          verifyAt,
          ...(settings.gatewaySignerDids ? { gatewaySignerDids: settings.gatewaySignerDids } : {}),
          ...(settings.attestationSignerDids ? { attestationSignerDids: settings.attestationSignerDids } : {}),
          ...(settings.executionAttestationSignerDids ? { executionAttestationSignerDids: settings.executionAttestationSignerDids } : {}),
          ...extra
        })
        if (result.status === "INVALID") yield* Effect.logDebug("proof bundle rejected").pipe(Effect.annotateLogs({ code: result.error?.code, field: result.error?.field }))
        return result
      }),
      commitProof: Effect.fn("Verifier.commitProof")(function* (input: unknown, extra?: Extra<CommitProof.Options>) {
        const verifyAt = yield* Clock.currentTimeMillis
        return CommitProof.verify(input, { ...base, verifyAt, ...(settings.repoClaimIds ? { repoClaimIds: settings.repoClaimIds } : {}), ...extra })
      }),
      challengeResponse: Effect.fn("Verifier.challengeResponse")(function* (input: unknown, challenge: Envelope.Challenge) {
        const verifyAt = yield* Clock.currentTimeMillis
        return Envelope.verifyChallengeResponse(input, challenge, { ...base, verifyAt })
      })
    }
  })

/** The service from explicit settings; needs an Ed25519 backend layer. */
export const layer = (settings: Settings): Layer.Layer<Verifier, never, Ed25519.Ed25519> => Layer.effect(Verifier, make(settings))

/**
 * A setting listing signer DIDs (a provider's list, or comma-separated text): each entry a did:key,
 * blanks dropped so an empty setting is no signers. A mistyped signer would silently never match, so
 * it fails the setting, naming it.
 */
export const signerDidsConfig = (name: string): Config.Config<ReadonlyArray<string>> =>
  Config.array(Config.string().pipe(Config.validate({
    message: "must be did:key DIDs, separated by commas",
    validation: (did) => did.trim() === "" || DidKey.resolve(did.trim(), true) !== undefined
  })), name).pipe(
    Config.map((entries) => entries.map((did) => did.trim()).filter((did) => did !== "")),
    Config.withDefault([])
  )

/**
 * Settings from configuration: `VERIFY_MODE` (strict|compat, default strict),
 * `VERIFY_GATEWAY_SIGNER_DIDS`, `VERIFY_ATTESTATION_SIGNER_DIDS`,
 * `VERIFY_EXECUTION_ATTESTATION_SIGNER_DIDS`, `VERIFY_REPO_CLAIM_IDS` (comma-separated),
 * `VERIFY_TTL_SKEW_MS` (0 to 600000, default 0).
 */
export const layerConfig: Layer.Layer<Verifier, import("effect/ConfigError").ConfigError, Ed25519.Ed25519> = Layer.effect(
  Verifier,
  Effect.gen(function* () {
    const list = (name: string) => Config.withDefault(Config.array(Config.string(), name), [] as Array<string>)
    // A mistyped signer would silently never match: refuse it when the layer is built.
    const settings: Settings = {
      mode: yield* Config.withDefault(Config.literal("strict", "compat")("VERIFY_MODE"), "strict" as const),
      // The marketplace's VERIFY_CLOCK_SKEW_MS range: a skew of hours would make expiry meaningless.
      ttlSkewMs: yield* Config.integer("VERIFY_TTL_SKEW_MS").pipe(
        Config.validate({ message: "must be between 0 and 600000", validation: (n) => n >= 0 && n <= 600_000 }),
        Config.withDefault(0)
      ),
      gatewaySignerDids: yield* signerDidsConfig("VERIFY_GATEWAY_SIGNER_DIDS"),
      attestationSignerDids: yield* signerDidsConfig("VERIFY_ATTESTATION_SIGNER_DIDS"),
      executionAttestationSignerDids: yield* signerDidsConfig("VERIFY_EXECUTION_ATTESTATION_SIGNER_DIDS"),
      repoClaimIds: yield* list("VERIFY_REPO_CLAIM_IDS")
    }
    return yield* make(settings)
  })
)
