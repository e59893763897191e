/**
 * What the archive readers produce, the problems they report, and the two checks both formats
 * share: entry-path normalisation and duplicate detection.
 *
 * The readers check each entry as soon as its header is read, before any of its content is
 * decompressed, so a zip-slip path or a symlink stops the read at once.
 */
import { createHash, type Hash } from "node:crypto"

/** Codes the readers can report; the agent-pack verifier passes them through unchanged. */
export type ArchiveCode =
  | "PACK_FORMAT_UNSUPPORTED"
  | "PACK_CORRUPT"
  | "PACK_UNCOMPRESSED_TOO_LARGE"
  | "PACK_TOO_MANY_ENTRIES"
  | "PACK_SYMLINK"
  | "PACK_ENTRY_TYPE_UNSUPPORTED"
  | "PACK_ENCRYPTED_ENTRY"
  | "PACK_ABSOLUTE_PATH"
  | "PACK_PATH_TRAVERSAL"
  | "PACK_PATH_INVALID"
  | "PACK_DUPLICATE_PATH"
  | "PACK_OUTSIDE_ROOT"
  | "PACK_RETAINED_FILE_TOO_LARGE"

export interface ArchiveProblem {
  readonly code: ArchiveCode
  readonly message: string
  /** The entry's name as stored in the archive, when the problem concerns one entry. */
  readonly path?: string
}

export const problem = (code: ArchiveCode, message: string, path?: string): ArchiveProblem =>
  path === undefined ? { code, message } : { code, message, path }

/** A regular file read from an archive. Directories are validated but not returned. */
export interface ArchiveFile {
  /** Normalised path: `/`-separated, no `.`, `..` or empty segments, no leading or trailing `/`. */
  readonly path: string
  readonly size: number
  /** base64url (no padding) of SHA-256 over the file's content. */
  readonly sha256B64u: string
  /** The content, only for the files the caller asked to retain. */
  readonly content?: Uint8Array
}

export interface ReadOptions {
  /** Refuse once the decompressed bytes exceed this many (checked while decompressing). */
  readonly maxUncompressedBytes: number
  /** Refuse archives with more entries (files and directories) than this. */
  readonly maxEntries: number
  /**
   * Paths (normalised) whose content the caller needs in memory, with the most bytes to keep.
   * A larger file is refused with PACK_RETAINED_FILE_TOO_LARGE before its content is read.
   */
  readonly retain: ReadonlyMap<string, number>
  /**
   * When set, every entry must be this directory or lie under it (PACK_OUTSIDE_ROOT otherwise),
   * checked at the entry's header. The extraction root itself (`./`) is always allowed.
   */
  readonly root?: string
  /** Aborts the read (the caller was interrupted). */
  readonly signal?: AbortSignal
}

export type ReadResult =
  | { readonly _tag: "Read"; readonly files: ReadonlyArray<ArchiveFile> }
  | { readonly _tag: "Refused"; readonly problem: ArchiveProblem }

export const refused = (p: ArchiveProblem): ReadResult => ({ _tag: "Refused", problem: p })

const MAX_PATH_LENGTH = 1024
// C0 controls, DEL and C1 controls: never part of a name a buyer should install.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

export type NormalisedPath =
  | { readonly _tag: "Path"; readonly path: string; readonly directory: boolean }
  | { readonly _tag: "Bad"; readonly problem: ArchiveProblem }

/**
 * Normalises an entry name, refusing anything that could land outside the extraction directory.
 *
 * Order (the first rule that applies decides the code):
 * 1. empty, longer than 1024 characters or containing a control character → PACK_PATH_INVALID;
 * 2. a leading `/` or `\`, or a drive letter (`C:`) → PACK_ABSOLUTE_PATH;
 * 3. a backslash anywhere → PACK_PATH_TRAVERSAL (Windows extractors treat it as a separator, so
 *    `a\..\..\b` escapes there even though it is one segment here);
 * 4. any `..` segment → PACK_PATH_TRAVERSAL, even one that would stay inside (`a/../b`): a pack
 *    has no reason to contain one and resolving them is where zip-slip bugs live;
 * 5. a drive letter once `.` segments are dropped (`./C:/x`) → PACK_ABSOLUTE_PATH, and any other
 *    `:` → PACK_PATH_INVALID (NTFS alternate data streams, drive-relative paths);
 * 6. a segment ending in a dot or a space (`install.md.`, `skills /x`) → PACK_PATH_INVALID: Windows
 *    drops them, so such an entry is written over its twin (`install.md`).
 * `.` and empty segments (`./a`, `a//b`) are dropped; a trailing `/` marks a directory. The
 * normalised path is what duplicate detection compares, so `a//b` and `a/b` collide.
 */
export const normalisePath = (raw: string): NormalisedPath => {
  const bad = (code: ArchiveCode, message: string): NormalisedPath => ({ _tag: "Bad", problem: problem(code, message, raw) })
  if (raw.length === 0) return bad("PACK_PATH_INVALID", "an entry has an empty name")
  if (raw.length > MAX_PATH_LENGTH) return bad("PACK_PATH_INVALID", `an entry name is longer than ${MAX_PATH_LENGTH} characters`)
  if (CONTROL.test(raw)) return bad("PACK_PATH_INVALID", "an entry name contains a control character")
  if (raw.startsWith("/") || raw.startsWith("\\") || /^[A-Za-z]:/.test(raw)) {
    return bad("PACK_ABSOLUTE_PATH", "an entry name is an absolute path")
  }
  if (raw.includes("\\")) return bad("PACK_PATH_TRAVERSAL", "an entry name contains a backslash")
  const segments = raw.split("/")
  if (segments.includes("..")) return bad("PACK_PATH_TRAVERSAL", "an entry name contains a '..' segment")
  const directory = raw.endsWith("/")
  const kept = segments.filter((s) => s !== "" && s !== ".")
  // After dropping `.` segments (`./C:/x`), the first segment must still not be a drive.
  if (/^[A-Za-z]:/.test(kept[0] ?? "")) return bad("PACK_ABSOLUTE_PATH", "an entry name is an absolute path")
  if (raw.includes(":")) return bad("PACK_PATH_INVALID", "an entry name contains ':' (a Windows drive or alternate data stream)")
  if (kept.some((s) => s.endsWith(".") || s.endsWith(" "))) {
    return bad("PACK_PATH_INVALID", "an entry name has a segment ending in '.' or ' ' (Windows drops them)")
  }
  return { _tag: "Path", path: kept.join("/"), directory }
}

/** PACK_OUTSIDE_ROOT unless `path` is the root directory or lies under it. */
export const checkRoot = (path: string, directory: boolean, raw: string, root: string | undefined): ArchiveProblem | undefined => {
  if (root === undefined || path.startsWith(`${root}/`) || (directory && path === root)) return undefined
  return problem("PACK_OUTSIDE_ROOT", `an entry lies outside '${root}/'`, raw)
}

/**
 * The key two paths collide under on a case-insensitive file system: NFC, then case folded.
 * `toLowerCase` alone is not folding: `ſ` (long s) and `ς` are already lower case, yet fold to `s`
 * and `σ`; upper-casing first takes them there (and is only ever more cautious).
 */
export const foldKey = (path: string): string => path.normalize("NFC").toUpperCase().toLowerCase()

/**
 * Paths seen so far. Two entries collide when their normalised paths are equal after Unicode NFC
 * and case folding: extracted on macOS or Windows, one would silently overwrite the other. A path
 * used both as a file and as a directory (`a` and `a/b`) also collides.
 */
export class PathIndex {
  private readonly files = new Set<string>()
  private readonly directories = new Set<string>()

  private static key(path: string): string {
    return foldKey(path)
  }

  /** Records an entry; returns the problem when it collides with an earlier one. */
  add(path: string, directory: boolean, raw: string): ArchiveProblem | undefined {
    const key = PathIndex.key(path)
    const collision = problem("PACK_DUPLICATE_PATH", `two entries have the path '${path}'`, raw)
    if (directory) {
      if (this.files.has(key)) return collision
      this.addAncestors(key)
      this.directories.add(key)
      return this.ancestorIsFile(key) ? collision : undefined
    }
    if (this.files.has(key) || this.directories.has(key)) return collision
    if (this.ancestorIsFile(key)) return collision
    this.files.add(key)
    this.addAncestors(key)
    return undefined
  }

  private ancestorIsFile(key: string): boolean {
    for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) {
      if (this.files.has(key.slice(0, i))) return true
    }
    return false
  }

  private addAncestors(key: string): void {
    for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) this.directories.add(key.slice(0, i))
  }
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true })

/** Decodes an entry name; `undefined` when the bytes are not valid UTF-8. */
export const decodeName = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8Strict.decode(bytes)
  } catch {
    return undefined
  }
}

/** Accumulates one file's content: always hashed, kept in memory only when asked. */
export class FileSink {
  private readonly hash: Hash = createHash("sha256")
  private readonly kept: Array<Uint8Array> | undefined
  private received = 0

  constructor(readonly path: string, readonly size: number, keep: boolean) {
    this.kept = keep ? [] : undefined
  }

  write(chunk: Uint8Array): void {
    this.hash.update(chunk)
    this.received += chunk.length
    // Copy: the chunk may be a view into a buffer the decompressor reuses.
    if (this.kept !== undefined) this.kept.push(Uint8Array.from(chunk))
  }

  get bytesReceived(): number {
    return this.received
  }

  finish(): ArchiveFile {
    const sha256B64u = this.hash.digest("base64url")
    if (this.kept === undefined) return { path: this.path, size: this.size, sha256B64u }
    return { path: this.path, size: this.size, sha256B64u, content: Buffer.concat(this.kept) }
  }
}
