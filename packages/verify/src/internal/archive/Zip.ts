/**
 * A minimal, strict `.zip` reader. The central directory is read and every entry checked (type,
 * encryption, method, path, duplicates, declared sizes against the limit) before a single byte
 * is inflated, so a zip-slip name or a 60 MB declared entry is refused without decompressing
 * anything.
 *
 * Stricter than common unzip tools, to leave no room for two parsers to disagree:
 * - the local file headers must tile the archive exactly (no prefix, gaps, overlaps or hidden
 *   entries before the central directory), and each repeats its central-directory name, method
 *   and sizes;
 * - an Info-ZIP Unicode path field (0x7075), in the central directory or a local header, must
 *   name the same path as the header;
 * - each entry inflates to exactly its declared size (inflation stops as soon as the output
 *   passes the declared size, so a header that under-declares cannot be used as a bomb) and
 *   matches its CRC-32;
 * - a name that is not ASCII must be flagged UTF-8 (bit 11): readers that follow the spec read
 *   an unflagged one as CP437 (PACK_PATH_INVALID).
 * Refused: ZIP64 and multi-disk archives, methods other than stored (0) and deflate (8), stored
 * entries with a data descriptor (streaming readers find their end by searching their content) →
 * PACK_FORMAT_UNSUPPORTED; encrypted entries → PACK_ENCRYPTED_ENTRY; Unix symlinks (mode
 * 0o120000) and Windows reparse points → PACK_SYMLINK; other special Unix files →
 * PACK_ENTRY_TYPE_UNSUPPORTED.
 *
 * "Uncompressed size" for a zip is the sum of the entries' sizes; the declared sizes are summed
 * and checked before inflating, and each entry's output is capped at its declared size.
 */
import { crc32, inflateRawSync } from "node:zlib"
import {
  type ArchiveFile,
  type ArchiveProblem,
  checkRoot,
  decodeName,
  FileSink,
  normalisePath,
  PathIndex,
  problem,
  type ReadOptions,
  type ReadResult,
  refused
} from "./Entries.js"

const EOCD_SIGNATURE = 0x06054b50
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50
const CENTRAL_SIGNATURE = 0x02014b50
const LOCAL_SIGNATURE = 0x04034b50
const DESCRIPTOR_SIGNATURE = 0x08074b50
const EOCD_SIZE = 22
const CENTRAL_SIZE = 46
const LOCAL_SIZE = 30

const FLAG_ENCRYPTED = 0x0001
const FLAG_DESCRIPTOR = 0x0008
const FLAG_UTF8 = 0x0800
const FLAG_STRONG_ENCRYPTION = 0x0040
const METHOD_STORED = 0
const METHOD_DEFLATE = 8
const METHOD_AES = 99

const S_IFMT = 0o170000
const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const DOS_DIRECTORY = 0x10
const DOS_REPARSE_POINT = 0x400
const UNICODE_PATH_EXTRA = 0x7075

interface CentralEntry {
  readonly raw: string
  readonly nameBytes: Uint8Array
  readonly path: string
  readonly directory: boolean
  readonly flags: number
  readonly method: number
  readonly crc: number
  readonly compressedSize: number
  readonly size: number
  readonly localOffset: number
  readonly retainLimit: number | undefined
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Finds the end-of-central-directory record: the last signature in the file (Info-ZIP unzip and
 * Python take that one), whose comment must run exactly to the end. A record hidden in an earlier
 * record's comment would give those tools another central directory than the one we check.
 */
const findEocd = (view: DataView): number | undefined => {
  const last = view.byteLength - EOCD_SIZE
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE) return view.getUint16(at + 20, true) === last - at ? at : undefined
  }
  return undefined
}

/** Extra fields as id → data; `undefined` when their lengths do not add up. */
const extraFields = (extra: Uint8Array): Map<number, Uint8Array> | undefined => {
  const fields = new Map<number, Uint8Array>()
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength)
  let at = 0
  while (at < extra.length) {
    if (at + 4 > extra.length) return undefined
    const id = view.getUint16(at, true)
    const size = view.getUint16(at + 2, true)
    if (at + 4 + size > extra.length) return undefined
    fields.set(id, extra.subarray(at + 4, at + 4 + size))
    at += 4 + size
  }
  return fields
}

/** An Info-ZIP Unicode path field, when present, must name exactly the header's path. */
const unicodePathAgrees = (extra: Map<number, Uint8Array>, raw: string): boolean => {
  const unicodePath = extra.get(UNICODE_PATH_EXTRA)
  if (unicodePath === undefined) return true
  return unicodePath[0] === 1 && unicodePath.length >= 5 && decodeName(unicodePath.subarray(5)) === raw
}

/** Reads the central directory and checks every entry; no content is touched. */
const readCentral = (
  bytes: Uint8Array,
  view: DataView,
  options: ReadOptions
): { entries: Array<CentralEntry>; centralOffset: number } | ArchiveProblem => {
  const eocd = findEocd(view)
  if (eocd === undefined) return problem("PACK_CORRUPT", "the zip has no end-of-central-directory record")
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === ZIP64_LOCATOR_SIGNATURE) {
    return problem("PACK_FORMAT_UNSUPPORTED", "ZIP64 archives are not supported")
  }
  const disk = view.getUint16(eocd + 4, true)
  const centralDisk = view.getUint16(eocd + 6, true)
  const entriesHere = view.getUint16(eocd + 8, true)
  const total = view.getUint16(eocd + 10, true)
  const centralSize = view.getUint32(eocd + 12, true)
  const centralOffset = view.getUint32(eocd + 16, true)
  if (total === 0xffff || centralSize === 0xffffffff || centralOffset === 0xffffffff) {
    return problem("PACK_FORMAT_UNSUPPORTED", "ZIP64 archives are not supported")
  }
  if (disk !== 0 || centralDisk !== 0 || entriesHere !== total) {
    return problem("PACK_FORMAT_UNSUPPORTED", "multi-disk zip archives are not supported")
  }
  if (total > options.maxEntries) {
    return problem("PACK_TOO_MANY_ENTRIES", `the archive has more than ${options.maxEntries} entries`)
  }
  if (centralOffset + centralSize !== eocd) {
    return problem("PACK_CORRUPT", "the zip central directory does not end where the end record begins")
  }

  const index = new PathIndex()
  const entries: Array<CentralEntry> = []
  let declaredTotal = 0
  let at = centralOffset
  for (let n = 0; n < total; n++) {
    if (at + CENTRAL_SIZE > eocd || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      return problem("PACK_CORRUPT", "a zip central directory record is malformed")
    }
    const madeBy = view.getUint16(at + 4, true) >> 8
    const flags = view.getUint16(at + 8, true)
    const method = view.getUint16(at + 10, true)
    const crc = view.getUint32(at + 16, true)
    const compressedSize = view.getUint32(at + 20, true)
    const size = view.getUint32(at + 24, true)
    const nameLength = view.getUint16(at + 28, true)
    const extraLength = view.getUint16(at + 30, true)
    const commentLength = view.getUint16(at + 32, true)
    const diskStart = view.getUint16(at + 34, true)
    const external = view.getUint32(at + 38, true)
    const localOffset = view.getUint32(at + 42, true)
    const nameStart = at + CENTRAL_SIZE
    const next = nameStart + nameLength + extraLength + commentLength
    if (next > eocd) return problem("PACK_CORRUPT", "a zip central directory record overruns the directory")
    const nameBytes = bytes.subarray(nameStart, nameStart + nameLength)
    const extra = extraFields(bytes.subarray(nameStart + nameLength, nameStart + nameLength + extraLength))
    at = next

    const raw = decodeName(nameBytes)
    if (raw === undefined) return problem("PACK_PATH_INVALID", "a zip entry name is not valid UTF-8")
    // Without the UTF-8 flag, Python's zipfile (and the zip spec) read a name as CP437, not UTF-8:
    // another path, which can be a second entry's.
    if ((flags & FLAG_UTF8) === 0 && nameBytes.some((byte) => byte >= 0x80)) {
      return problem("PACK_PATH_INVALID", "a non-ASCII zip entry name is not marked UTF-8 (general purpose flag bit 11)", raw)
    }
    if (extra === undefined) return problem("PACK_CORRUPT", "a zip entry's extra fields are malformed", raw)
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff || diskStart !== 0) {
      return problem("PACK_FORMAT_UNSUPPORTED", "ZIP64 entries are not supported", raw)
    }

    // Entry type, from the Unix mode in the high half of the external attributes (any host that
    // sets one) and the DOS attributes in the low byte.
    const mode = external >>> 16
    const type = mode & S_IFMT
    if (type === S_IFLNK || (external & DOS_REPARSE_POINT) !== 0) {
      return problem("PACK_SYMLINK", "the archive contains a link", raw)
    }
    if (mode !== 0 && type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      return problem("PACK_ENTRY_TYPE_UNSUPPORTED", "the archive contains a special file", raw)
    }
    if ((flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) !== 0 || method === METHOD_AES) {
      return problem("PACK_ENCRYPTED_ENTRY", "the archive contains an encrypted entry", raw)
    }
    if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
      return problem("PACK_FORMAT_UNSUPPORTED", `zip compression method ${method} is not supported`, raw)
    }
    // Stored data has no end marker of its own: streaming readers (bsdtar reading a pipe) end it at
    // the first data descriptor found in it, so its content could hold more entries for them.
    if (method === METHOD_STORED && (flags & FLAG_DESCRIPTOR) !== 0) {
      return problem("PACK_FORMAT_UNSUPPORTED", "a stored zip entry with a data descriptor is not supported", raw)
    }

    if (!unicodePathAgrees(extra, raw)) return problem("PACK_CORRUPT", "a zip entry carries a second, different name", raw)

    const normalised = normalisePath(raw)
    if (normalised._tag === "Bad") return normalised.problem
    const directory = normalised.directory || type === S_IFDIR || (madeBy === 0 && (external & DOS_DIRECTORY) !== 0)
    if (directory !== normalised.directory) return problem("PACK_PATH_INVALID", "a zip directory entry's name does not end in '/'", raw)
    if (directory) {
      if (size !== 0) return problem("PACK_CORRUPT", "a zip directory entry has content", raw)
    } else if (normalised.path === "") {
      return problem("PACK_PATH_INVALID", "a file entry has a directory name", raw)
    }
    if (normalised.path !== "") {
      const collision = checkRoot(normalised.path, directory, raw, options.root) ?? index.add(normalised.path, directory, raw)
      if (collision !== undefined) return collision
    }

    declaredTotal += size
    if (declaredTotal > options.maxUncompressedBytes) {
      return problem("PACK_UNCOMPRESSED_TOO_LARGE", `the zip entries declare more than ${options.maxUncompressedBytes} bytes`, raw)
    }
    if (method === METHOD_STORED && compressedSize !== size) {
      return problem("PACK_CORRUPT", "a stored zip entry's sizes differ", raw)
    }
    const retainLimit = directory ? undefined : options.retain.get(normalised.path)
    if (retainLimit !== undefined && size > retainLimit) {
      return problem("PACK_RETAINED_FILE_TOO_LARGE", `'${normalised.path}' is larger than ${retainLimit} bytes`, raw)
    }
    entries.push({
      raw, nameBytes, path: normalised.path, directory, flags, method, crc, compressedSize, size, localOffset, retainLimit
    })
  }
  if (at !== eocd) return problem("PACK_CORRUPT", "the zip central directory holds more records than it declares")
  return { entries, centralOffset }
}

/** Locates an entry's data through its local header; returns where the next entry must start. */
const locate = (
  bytes: Uint8Array,
  view: DataView,
  entry: CentralEntry,
  centralOffset: number
): { dataStart: number; next: number } | ArchiveProblem => {
  const corrupt = (message: string) => problem("PACK_CORRUPT", message, entry.raw)
  const at = entry.localOffset
  if (at + LOCAL_SIZE > centralOffset || view.getUint32(at, true) !== LOCAL_SIGNATURE) {
    return corrupt("a zip local header is missing")
  }
  const flags = view.getUint16(at + 6, true)
  const method = view.getUint16(at + 8, true)
  const nameLength = view.getUint16(at + 26, true)
  const extraLength = view.getUint16(at + 28, true)
  if (flags !== entry.flags || method !== entry.method) return corrupt("a zip local header disagrees with the central directory")
  if (!sameBytes(bytes.subarray(at + LOCAL_SIZE, at + LOCAL_SIZE + nameLength), entry.nameBytes)) {
    return corrupt("a zip local header names a different path than the central directory")
  }
  // libarchive (bsdtar) names the entry from the local header's Unicode path field, not the
  // central directory's: it must agree too.
  const localExtraStart = at + LOCAL_SIZE + nameLength
  if (localExtraStart + extraLength > centralOffset) return corrupt("a zip local header overruns the central directory")
  const localExtra = extraFields(bytes.subarray(localExtraStart, localExtraStart + extraLength))
  if (localExtra === undefined) return corrupt("a zip local header's extra fields are malformed")
  if (!unicodePathAgrees(localExtra, entry.raw)) return corrupt("a zip local header carries a second, different name")
  const descriptor = (flags & FLAG_DESCRIPTOR) !== 0
  if (!descriptor) {
    const sizesAgree = view.getUint32(at + 14, true) === entry.crc &&
      view.getUint32(at + 18, true) === entry.compressedSize &&
      view.getUint32(at + 22, true) === entry.size
    if (!sizesAgree) return corrupt("a zip local header's CRC or sizes disagree with the central directory")
  }
  const dataStart = at + LOCAL_SIZE + nameLength + extraLength
  const dataEnd = dataStart + entry.compressedSize
  if (dataEnd > centralOffset) return corrupt("a zip entry's data overruns the central directory")
  if (!descriptor) return { dataStart, next: dataEnd }
  // Data descriptor: optional signature, then CRC-32, compressed and uncompressed sizes.
  let d = dataEnd
  if (d + 4 <= centralOffset && view.getUint32(d, true) === DESCRIPTOR_SIGNATURE) d += 4
  if (d + 12 > centralOffset) return corrupt("a zip data descriptor is truncated")
  const agree = view.getUint32(d, true) === entry.crc &&
    view.getUint32(d + 4, true) === entry.compressedSize &&
    view.getUint32(d + 8, true) === entry.size
  if (!agree) return corrupt("a zip data descriptor disagrees with the central directory")
  return { dataStart, next: d + 12 }
}

/** Inflates (or copies) one entry into a sink, capped at its declared size. */
const extract = (bytes: Uint8Array, entry: CentralEntry, dataStart: number): ArchiveFile | ArchiveProblem => {
  const corrupt = (message: string) => problem("PACK_CORRUPT", message, entry.raw)
  const data = bytes.subarray(dataStart, dataStart + entry.compressedSize)
  let content: Uint8Array
  if (entry.method === METHOD_STORED) {
    content = data
  } else {
    try {
      // maxOutputLength stops inflation (and allocation) as soon as the output passes the
      // declared size; it must be at least 1, so an empty entry may produce one byte and fail below.
      content = inflateRawSync(data, { maxOutputLength: Math.max(1, entry.size) })
    } catch (error) {
      const code = (error as { code?: unknown }).code
      return code === "ERR_BUFFER_TOO_LARGE"
        ? corrupt("a zip entry inflates past its declared size")
        : corrupt(`a zip entry does not inflate: ${(error as Error).message}`)
    }
  }
  if (content.length !== entry.size) return corrupt("a zip entry's size differs from its declared size")
  if (crc32(content) >>> 0 !== entry.crc) return corrupt("a zip entry's CRC-32 does not match")
  const sink = new FileSink(entry.path, entry.size, entry.retainLimit !== undefined)
  sink.write(content)
  return sink.finish()
}

/** Reads a `.zip`, stopping at the first problem. */
export const readZip = (bytes: Uint8Array, options: ReadOptions): ReadResult => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < EOCD_SIZE) return refused(problem("PACK_CORRUPT", "the zip is shorter than its end record"))
  const central = readCentral(bytes, view, options)
  if ("code" in central) return refused(central)

  // The local entries, in file order, must tile [0, centralOffset) exactly.
  const ordered = [...central.entries].sort((a, b) => a.localOffset - b.localOffset)
  const files: Array<ArchiveFile> = []
  let cursor = 0
  for (const entry of ordered) {
    if (options.signal?.aborted) return refused(problem("PACK_CORRUPT", "the read was aborted"))
    if (entry.localOffset !== cursor) {
      return refused(problem("PACK_CORRUPT", "zip entries overlap or leave unlisted data between them", entry.raw))
    }
    const located = locate(bytes, view, entry, central.centralOffset)
    if ("code" in located) return refused(located)
    cursor = located.next
    if (entry.directory) continue
    const file = extract(bytes, entry, located.dataStart)
    if ("code" in file) return refused(file)
    files.push(file)
  }
  if (cursor !== central.centralOffset) {
    return refused(problem("PACK_CORRUPT", "unlisted data lies between the last zip entry and the central directory"))
  }
  return { _tag: "Read", files }
}
