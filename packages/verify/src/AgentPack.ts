/**
 * Agent packs (spec B6): a signed, content-addressed `.tar.gz` or `.zip` a buyer installs into
 * OpenClaw. {@link verify} takes the pack bytes, the `artifact_signature` envelope that signs
 * them and the hash the submission declares, and returns a result value: VALID with the manifest
 * and the file list, or INVALID with one stable code per rule. It never fails and never reads the
 * wall clock (`verifyAt` is an input).
 *
 * **Bundle hash.** `bundle_hash_b64u = base64url(SHA-256(pack bytes))`, no padding: the raw bytes
 * as downloaded, before any decompression (B6.3 `content_hash_b64u = sha256(bundle_bytes)`).
 * It must equal the artifact payload's `content_hash_b64u` and the submission's
 * `agent_pack.bundle_sha256_b64u`, compared as strings (our encoding is canonical, so a
 * non-canonical spelling of the same digest does not match). The proof bundle's URM
 * `resource_hash_b64u` is the caller's to compare with the returned `bundle_hash_b64u`.
 *
 * **Checks, in order; the first failure decides the code:**
 * 1. more than 10 MiB of pack bytes → PACK_TOO_LARGE (before hashing or parsing anything);
 * 2. the artifact envelope verifies (`Envelope.verifyArtifact`, strict mode by default) →
 *    PACK_ARTIFACT_ENVELOPE_INVALID, with the envelope's own code in `error.envelope_error`;
 * 3. the envelope's signer is the submitting worker, when `workerDid` is given → PACK_SIGNER_MISMATCH;
 * 4. `artifact_type` is `agent_pack_bundle` → PACK_ARTIFACT_TYPE_MISMATCH;
 * 5. the bundle hash equals the envelope's `content_hash_b64u`, then the submission's declared
 *    hash → PACK_BUNDLE_HASH_MISMATCH (`error.field` says which);
 * 6. `content_size_bytes` equals the byte length → PACK_CONTENT_SIZE_MISMATCH;
 * 7. the magic bytes are gzip or zip → PACK_FORMAT_UNSUPPORTED; they agree with the declared
 *    format → PACK_FORMAT_MISMATCH; the envelope's `content_type` is the format's
 *    (`application/gzip`, `application/zip`) → PACK_CONTENT_TYPE_MISMATCH;
 * 8. the archive reads under the limits and rules (internal/archive): PACK_UNCOMPRESSED_TOO_LARGE
 *    (over 50 MiB, enforced while inflating), PACK_TOO_MANY_ENTRIES, PACK_CORRUPT, PACK_SYMLINK
 *    (symbolic or hard links), PACK_ENTRY_TYPE_UNSUPPORTED (devices, FIFOs, ...),
 *    PACK_ENCRYPTED_ENTRY, PACK_ABSOLUTE_PATH, PACK_PATH_TRAVERSAL (`..` segments, backslashes),
 *    PACK_PATH_INVALID, PACK_DUPLICATE_PATH, PACK_OUTSIDE_ROOT (everything lives under
 *    `agent-pack/`), and PACK_MANIFEST_INVALID for a manifest over 1 MiB;
 * 9. `manifest.json`, `README.md`, `install.md` and at least one `skills/<name>/SKILL.md` exist
 *    under `agent-pack/` → PACK_REQUIRED_FILE_MISSING;
 * 10. `manifest.json` is UTF-8 JSON, no member twice in one object, matching {@link Manifest} →
 *     PACK_MANIFEST_INVALID (see
 *     {@link checkManifest} for the rules beyond the shape);
 * 11. `manifest.author_did` is the envelope's signer → PACK_AUTHOR_MISMATCH;
 * 12. every `files[]` entry exists → PACK_MANIFEST_FILE_MISSING, its SHA-256 matches
 *     `sha256_b64u` → PACK_FILE_HASH_MISMATCH, and its size matches `size_bytes` →
 *     PACK_FILE_SIZE_MISMATCH;
 * 13. every file in the pack other than `manifest.json` is listed → PACK_FILE_NOT_IN_MANIFEST.
 *
 * Where B6 is silent we chose the strict reading (reference study §3.3): manifest paths are
 * relative to `agent-pack/`; the manifest does not list itself (it cannot contain its own
 * hash) and lists every other file; `size_bytes` is checked; the author is the signer.
 *
 * Node only: the readers use `node:zlib` and hashing uses `node:crypto`.
 */
import { createHash } from "node:crypto"
import { Did } from "@clawbounties/domain"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Envelope from "./Envelope.js"
import type { ArchiveCode, ArchiveFile, ReadOptions, ReadResult } from "./internal/archive/Entries.js"
import { foldKey, normalisePath } from "./internal/archive/Entries.js"
import { readTarGz } from "./internal/archive/Tar.js"
import { readZip } from "./internal/archive/Zip.js"
import { isDateTime, isoAt, isRecord, type VerificationError } from "./Result.js"

/** B6.1: at most 10 MB compressed (read as MiB). */
export const MAX_COMPRESSED_BYTES = 10 * 1024 * 1024
/** B6.1: at most 50 MB uncompressed (MiB): the tar stream for .tar.gz, the entries' sum for .zip. */
export const MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
/** Ours: bounds the work and memory spent on entry bookkeeping. */
export const MAX_ENTRIES = 10_000
/** Ours: the manifest is the one file held in memory. */
export const MAX_MANIFEST_BYTES = 1024 * 1024
/** Every entry lives under this directory (B6.1 "Required paths inside bundle"). */
export const ROOT = "agent-pack"
export const MANIFEST_PATH = `${ROOT}/manifest.json`
export const ARTIFACT_TYPE = "agent_pack_bundle"

export type Format = "tar.gz" | "zip"

export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  "tar.gz": "application/gzip",
  zip: "application/zip"
}

export type Code =
  | "PACK_TOO_LARGE"
  | "PACK_ARTIFACT_ENVELOPE_INVALID"
  | "PACK_SIGNER_MISMATCH"
  | "PACK_ARTIFACT_TYPE_MISMATCH"
  | "PACK_BUNDLE_HASH_MISMATCH"
  | "PACK_CONTENT_SIZE_MISMATCH"
  | "PACK_FORMAT_MISMATCH"
  | "PACK_CONTENT_TYPE_MISMATCH"
  | Exclude<ArchiveCode, "PACK_RETAINED_FILE_TOO_LARGE">
  | "PACK_REQUIRED_FILE_MISSING"
  | "PACK_MANIFEST_INVALID"
  | "PACK_AUTHOR_MISMATCH"
  | "PACK_MANIFEST_FILE_MISSING"
  | "PACK_FILE_HASH_MISMATCH"
  | "PACK_FILE_SIZE_MISMATCH"
  | "PACK_FILE_NOT_IN_MANIFEST"

// ---------------------------------------------------------------------------------------------
// manifest.json (B6.2)

const NonEmpty = Schema.String.pipe(Schema.minLength(1))
/** A canonical base64url SHA-256 digest: 43 characters, the last one's unused bits zero. */
const Sha256B64u = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, { message: () => "a base64url SHA-256 digest (43 characters)" })
)

export const ManifestFile = Schema.Struct({
  path: NonEmpty,
  sha256_b64u: Sha256B64u,
  content_type: NonEmpty,
  size_bytes: Schema.Number.pipe(Schema.int(), Schema.nonNegative())
})
export type ManifestFile = typeof ManifestFile.Type

/** B6.2's minimal schema; unknown fields are allowed and dropped. */
export const Manifest = Schema.Struct({
  schema_version: Schema.Literal("1"),
  pack_id: NonEmpty.pipe(Schema.maxLength(200)),
  title: NonEmpty.pipe(Schema.maxLength(500)),
  created_at: Schema.String.pipe(Schema.filter((s) => isDateTime(s) || "an RFC 3339 date-time")),
  author_did: Did.DidKey,
  files: Schema.Array(ManifestFile).pipe(Schema.maxItems(MAX_ENTRIES)),
  entrypoints: Schema.Struct({
    skills: Schema.Array(NonEmpty).pipe(Schema.minItems(1)),
    install: NonEmpty
  })
})
export type Manifest = typeof Manifest.Type

const SKILL_PATH = /^skills\/[^/]+\/SKILL\.md$/

/** Whether `path` (relative to `agent-pack/`) is a skill's SKILL.md. */
export const isSkillPath = (path: string): boolean => SKILL_PATH.test(path)

const manifestError = (message: string, field: string): PackError => ({ code: "PACK_MANIFEST_INVALID", message, field })

const JSON_SPACE = new Set([" ", "\t", "\n", "\r"])

/**
 * The first object member name given twice in one object of `text` (JSON that already parsed),
 * compared after unescaping. JSON.parse keeps the last one; other readers keep the first or fail,
 * so such a manifest has no single meaning.
 */
export const firstDuplicateKey = (text: string): string | undefined => {
  const stack: Array<Set<string> | undefined> = [] // one key set per open object; arrays have none
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"") {
      let end = i + 1
      while (text[end] !== "\"") end += text[end] === "\\" ? 2 : 1
      const token = text.slice(i, end + 1)
      i = end + 1
      const keys = stack[stack.length - 1]
      if (keys === undefined) continue
      let next = i
      while (JSON_SPACE.has(text[next]!)) next++
      if (text[next] !== ":") continue // a value, not a member name
      const key = JSON.parse(token) as string
      if (keys.has(key)) return key
      keys.add(key)
      continue
    }
    if (c === "{") stack.push(new Set())
    else if (c === "[") stack.push(undefined)
    else if (c === "}" || c === "]") stack.pop()
    i++
  }
  return undefined
}

/**
 * Decodes manifest.json's bytes: UTF-8 JSON with no member given twice in one object. Beyond the
 * shape: each `files[].path` is already normal (relative, `/`-separated, no `.`, `..`, empty
 * segments or backslashes), paths are unique (ignoring case), `manifest.json` is not listed, and
 * every entrypoint is a listed file, skills being `skills/<name>/SKILL.md`.
 */
export const checkManifest = (bytes: Uint8Array): Either.Either<Manifest, PackError> => {
  let value: unknown
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    value = JSON.parse(text)
  } catch (error) {
    return Either.left(manifestError(`manifest.json is not UTF-8 JSON: ${(error as Error).message}`, "manifest"))
  }
  if (!isRecord(value)) return Either.left(manifestError("manifest.json is not a JSON object", "manifest"))
  const duplicate = firstDuplicateKey(text)
  if (duplicate !== undefined) return Either.left(manifestError(`manifest.json gives the member '${duplicate}' twice in one object`, "manifest"))
  const decoded = Schema.decodeUnknownEither(Manifest)(value, { errors: "first" })
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    const field = ["manifest", ...(issue?.path ?? [])].join(".")
    return Either.left(manifestError(`manifest.json: ${issue?.message ?? "does not match the schema"}`, field))
  }
  const manifest = decoded.right
  const seen = new Set<string>()
  for (const [i, file] of manifest.files.entries()) {
    const field = `manifest.files.${i}.path`
    const normal = normalisePath(file.path)
    if (normal._tag === "Bad") return Either.left(manifestError(`manifest.json: ${normal.problem.message}`, field))
    if (normal.directory || normal.path !== file.path) {
      return Either.left(manifestError("manifest.json: a file path is not in normal form", field))
    }
    if (file.path === "manifest.json") return Either.left(manifestError("manifest.json lists itself", field))
    const key = foldKey(file.path)
    if (seen.has(key)) return Either.left(manifestError(`manifest.json lists '${file.path}' twice`, field))
    seen.add(key)
  }
  const listed = new Set(manifest.files.map((f) => f.path))
  for (const [i, skill] of manifest.entrypoints.skills.entries()) {
    if (!isSkillPath(skill) || !listed.has(skill)) {
      return Either.left(manifestError("an entrypoint skill is not a listed skills/<name>/SKILL.md", `manifest.entrypoints.skills.${i}`))
    }
  }
  if (!listed.has(manifest.entrypoints.install)) {
    return Either.left(manifestError("the install entrypoint is not a listed file", "manifest.entrypoints.install"))
  }
  return Either.right(manifest)
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface Input {
  /** The pack as downloaded. */
  readonly bytes: Uint8Array
  /** The format the submission claims (file name or content type); detected from magic bytes regardless. */
  readonly format?: Format | undefined
  /** The `artifact_signature` envelope signing the pack, as parsed JSON. */
  readonly artifactEnvelope: unknown
  /** The submission's `agent_pack.bundle_sha256_b64u`. */
  readonly declaredHash: string
  /** The submitting worker; when given, the envelope must be signed by it. */
  readonly workerDid?: string | undefined
}

/** `verifyAt` (epoch ms), `mode` (strict by default), skew and Ed25519 backend for the envelope. */
export type Options = Envelope.VerifyOptions

/** A file in the pack; `path` is relative to `agent-pack/`. */
export interface PackFile {
  readonly path: string
  readonly size_bytes: number
  readonly sha256_b64u: string
}

export interface PackError {
  readonly code: Code
  readonly message: string
  /** The input field or manifest field concerned (`manifest.files.2.sha256_b64u`, `declaredHash`). */
  readonly field?: string
  /** The archive entry concerned, as named in the archive. */
  readonly path?: string
  /** For PACK_ARTIFACT_ENVELOPE_INVALID: the envelope verifier's error (its code is the reference's). */
  readonly envelope_error?: VerificationError
}

export interface Valid {
  readonly status: "VALID"
  readonly reason: string
  readonly verified_at: string
  readonly format: Format
  readonly bundle_hash_b64u: string
  readonly signer_did: string
  readonly artifact_id: string
  readonly manifest: Manifest
  /** Every file in the pack, `manifest.json` included, in archive order. */
  readonly files: ReadonlyArray<PackFile>
}

export interface Invalid {
  readonly status: "INVALID"
  readonly reason: string
  readonly verified_at: string
  readonly error: PackError
  /** Present once the bytes were hashed (every code but PACK_TOO_LARGE). */
  readonly bundle_hash_b64u?: string
}

export type Result = Valid | Invalid

/** `base64url(SHA-256(bytes))`, the bundle hash. */
export const bundleHash = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("base64url")

/** The format named by the magic bytes: gzip `1f 8b`, zip `PK\3\4` (or an empty zip's `PK\5\6`). */
export const detectFormat = (bytes: Uint8Array): Format | undefined => {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return "tar.gz"
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    if ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6)) return "zip"
  }
  return undefined
}

const err = (code: Code, message: string, extra: Omit<PackError, "code" | "message"> = {}): PackError => ({ code, message, ...extra })

/** The checks before the archive is opened (1–7). */
const checkEvidence = (
  input: Input,
  options: Options
): { readonly error: PackError; readonly hash?: string } | { readonly format: Format; readonly hash: string; readonly signer: string; readonly artifactId: string } => {
  const { bytes } = input
  if (bytes.length > MAX_COMPRESSED_BYTES) {
    return { error: err("PACK_TOO_LARGE", `the pack is ${bytes.length} bytes, over ${MAX_COMPRESSED_BYTES}`, { field: "bytes" }) }
  }
  const hash = bundleHash(bytes)
  const fail = (error: PackError) => ({ error, hash })

  const envelope = Envelope.verifyArtifact(input.artifactEnvelope, options)
  if (envelope.status !== "VALID") {
    const inner = envelope.error!
    return fail(err("PACK_ARTIFACT_ENVELOPE_INVALID", `the artifact envelope is invalid: ${inner.message}`, {
      field: "artifactEnvelope", envelope_error: inner
    }))
  }
  // verifyArtifact checked the payload's shape: these fields are strings and a number.
  const env = input.artifactEnvelope as { signer_did: string; payload: Record<string, unknown> }
  const payload = env.payload as {
    artifact_id: string; artifact_type: string; content_hash_b64u: string; content_type: string; content_size_bytes: number
  }
  if (input.workerDid !== undefined && env.signer_did !== input.workerDid) {
    return fail(err("PACK_SIGNER_MISMATCH", "the artifact envelope is not signed by the submitting worker", { field: "artifactEnvelope.signer_did" }))
  }
  if (payload.artifact_type !== ARTIFACT_TYPE) {
    return fail(err("PACK_ARTIFACT_TYPE_MISMATCH", `artifact_type is not "${ARTIFACT_TYPE}"`, { field: "artifactEnvelope.payload.artifact_type" }))
  }
  if (payload.content_hash_b64u !== hash) {
    return fail(err("PACK_BUNDLE_HASH_MISMATCH", "the pack's SHA-256 differs from the artifact's content_hash_b64u", {
      field: "artifactEnvelope.payload.content_hash_b64u"
    }))
  }
  if (input.declaredHash !== hash) {
    return fail(err("PACK_BUNDLE_HASH_MISMATCH", "the pack's SHA-256 differs from the hash the submission declares", { field: "declaredHash" }))
  }
  if (payload.content_size_bytes !== bytes.length) {
    return fail(err("PACK_CONTENT_SIZE_MISMATCH", "the pack's length differs from the artifact's content_size_bytes", {
      field: "artifactEnvelope.payload.content_size_bytes"
    }))
  }
  const format = detectFormat(bytes)
  if (format === undefined) return fail(err("PACK_FORMAT_UNSUPPORTED", "the pack is neither gzip nor zip", { field: "bytes" }))
  if (input.format !== undefined && input.format !== format) {
    return fail(err("PACK_FORMAT_MISMATCH", `the pack is declared ${input.format} but its bytes are ${format}`, { field: "format" }))
  }
  if (payload.content_type !== CONTENT_TYPES[format]) {
    return fail(err("PACK_CONTENT_TYPE_MISMATCH", `a ${format} pack has content_type ${CONTENT_TYPES[format]}`, {
      field: "artifactEnvelope.payload.content_type"
    }))
  }
  return { format, hash, signer: env.signer_did, artifactId: payload.artifact_id }
}

const REQUIRED = ["manifest.json", "README.md", "install.md"] as const

/** The checks on the unpacked files (9–13); `files` are relative to `agent-pack/`. */
const checkContents = (
  files: ReadonlyArray<ArchiveFile>,
  signer: string
): Either.Either<Manifest, PackError> => {
  const byPath = new Map(files.map((f) => [f.path, f]))
  for (const name of REQUIRED) {
    if (!byPath.has(name)) return Either.left(err("PACK_REQUIRED_FILE_MISSING", `agent-pack/${name} is missing`, { path: `${ROOT}/${name}` }))
  }
  if (!files.some((f) => isSkillPath(f.path))) {
    return Either.left(err("PACK_REQUIRED_FILE_MISSING", "the pack has no agent-pack/skills/<name>/SKILL.md", { path: `${ROOT}/skills/` }))
  }
  const checked = checkManifest(byPath.get("manifest.json")!.content!)
  if (Either.isLeft(checked)) return checked
  const manifest = checked.right
  if (manifest.author_did !== signer) {
    return Either.left(err("PACK_AUTHOR_MISMATCH", "the manifest's author_did is not the artifact's signer", { field: "manifest.author_did" }))
  }
  for (const [i, listed] of manifest.files.entries()) {
    const file = byPath.get(listed.path)
    const where = { field: `manifest.files.${i}`, path: `${ROOT}/${listed.path}` }
    if (file === undefined) return Either.left(err("PACK_MANIFEST_FILE_MISSING", `'${listed.path}' is listed but not in the pack`, where))
    if (file.sha256B64u !== listed.sha256_b64u) {
      return Either.left(err("PACK_FILE_HASH_MISMATCH", `'${listed.path}' does not match its sha256_b64u`, where))
    }
    if (file.size !== listed.size_bytes) {
      return Either.left(err("PACK_FILE_SIZE_MISMATCH", `'${listed.path}' does not match its size_bytes`, where))
    }
  }
  const listed = new Set(manifest.files.map((f) => f.path))
  for (const file of files) {
    if (file.path !== "manifest.json" && !listed.has(file.path)) {
      return Either.left(err("PACK_FILE_NOT_IN_MANIFEST", `'${file.path}' is in the pack but not in the manifest`, { path: `${ROOT}/${file.path}` }))
    }
  }
  return Either.right(manifest)
}

const readArchive = (bytes: Uint8Array, format: Format, signal: AbortSignal): Promise<ReadResult> => {
  const options: ReadOptions = {
    maxUncompressedBytes: MAX_UNCOMPRESSED_BYTES,
    maxEntries: MAX_ENTRIES,
    retain: new Map([[MANIFEST_PATH, MAX_MANIFEST_BYTES]]),
    root: ROOT,
    signal
  }
  return format === "tar.gz" ? readTarGz(bytes, options) : Promise.resolve(readZip(bytes, options))
}

/**
 * Verifies an agent pack against its artifact envelope and the submission's declared hash.
 * Never fails: every outcome is a {@link Result}. Interruption stops decompression.
 */
export const verify = (input: Input, options: Options): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const verified_at = isoAt(options.verifyAt)
    const invalid = (error: PackError, hash?: string): Invalid =>
      hash === undefined
        ? { status: "INVALID", reason: error.message, verified_at, error }
        : { status: "INVALID", reason: error.message, verified_at, error, bundle_hash_b64u: hash }

    const evidence = checkEvidence(input, options)
    if ("error" in evidence) return invalid(evidence.error, evidence.hash)

    const read = yield* Effect.promise((signal) => readArchive(input.bytes, evidence.format, signal))
    if (read._tag === "Refused") {
      const p = read.problem
      const error = p.code === "PACK_RETAINED_FILE_TOO_LARGE"
        ? err("PACK_MANIFEST_INVALID", `manifest.json is larger than ${MAX_MANIFEST_BYTES} bytes`, { field: "manifest", path: MANIFEST_PATH })
        : err(p.code, p.message, p.path === undefined ? {} : { path: p.path })
      return invalid(error, evidence.hash)
    }
    // The reader guaranteed every path is under agent-pack/.
    const files = read.files.map((f) => ({ ...f, path: f.path.slice(ROOT.length + 1) }))
    const contents = checkContents(files, evidence.signer)
    if (Either.isLeft(contents)) return invalid(contents.left, evidence.hash)

    const valid: Valid = {
      status: "VALID",
      reason: "Agent pack verified",
      verified_at,
      format: evidence.format,
      bundle_hash_b64u: evidence.hash,
      signer_did: evidence.signer,
      artifact_id: evidence.artifactId,
      manifest: contents.right,
      files: files.map((f) => ({ path: f.path, size_bytes: f.size, sha256_b64u: f.sha256B64u }))
    }
    return valid
  }).pipe(Effect.withSpan("AgentPack.verify"))
