/**
 * A minimal, strict reader for `.tar.gz`: gunzip streamed through `node:zlib` into a push parser,
 * with a byte counter that stops decompression as soon as the output passes the limit. Nothing
 * but the current 512-byte header, extended headers and the files the caller retains is held in
 * memory, so a decompression bomb costs CPU for at most the limit and almost no memory.
 *
 * Accepted: POSIX ustar and GNU tar headers; regular files (`0`, NUL, `7`), directories (`5`),
 * pax extended headers (`x`: `path` and `size` are honoured, other keys ignored), pax global
 * headers (`g`, e.g. the commit id `git archive` writes; refused if they set `path` or `size`)
 * and GNU long names (`L`); one name and one size per entry (two extended headers naming it are
 * PACK_CORRUPT: extractors disagree on which wins).
 * Refused: hard and symbolic links (`1`, `2`, GNU `K`) → PACK_SYMLINK; devices, FIFOs, sparse
 * files (type `S`, or pax `GNU.sparse.*` records) and anything else → PACK_ENTRY_TYPE_UNSUPPORTED;
 * a bad header checksum, truncation, data after the end-of-archive blocks, or a gzip error →
 * PACK_CORRUPT.
 *
 * "Uncompressed size" for a tar.gz is the size of the tar stream gunzip produces (content plus
 * headers and padding). A header whose declared size would carry the stream past the limit is
 * refused at the header, before its content is inflated.
 */
import { createGunzip } from "node:zlib"
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

const BLOCK = 512
/** Largest pax or GNU long-name header kept in memory. */
const MAX_EXTENDED_HEADER = 64 * 1024
const GUNZIP_CHUNK = 64 * 1024

type Pending =
  | { readonly kind: "file"; readonly sink: FileSink; readonly padding: number }
  | { readonly kind: "extended"; readonly type: "x" | "g" | "L"; readonly parts: Array<Uint8Array>; readonly size: number; readonly padding: number }

const isZeroBlock = (block: Uint8Array): boolean => {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false
  return true
}

const ascii = (bytes: Uint8Array, start: number, length: number): string => {
  let end = start
  while (end < start + length && bytes[end] !== 0) end++
  return String.fromCharCode(...bytes.subarray(start, end))
}

/** A numeric header field: octal digits (space/NUL padded) or GNU base-256. `undefined` if malformed. */
const numeric = (bytes: Uint8Array, start: number, length: number): number | undefined => {
  if ((bytes[start]! & 0x80) !== 0) {
    if (bytes[start] !== 0x80) return undefined // negative base-256
    let value = 0
    for (let i = start + 1; i < start + length; i++) value = value * 256 + bytes[i]!
    return Number.isSafeInteger(value) ? value : undefined
  }
  const text = ascii(bytes, start, length).trim()
  if (!/^[0-7]+$/.test(text)) return text === "" ? 0 : undefined
  const value = parseInt(text, 8)
  return Number.isSafeInteger(value) ? value : undefined
}

const checksumOk = (header: Uint8Array): boolean => {
  const stored = numeric(header, 148, 8)
  if (stored === undefined) return false
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!
  return sum === stored
}

/** Parses pax records `"<len> <key>=<value>\n"`; `undefined` when malformed. */
const paxRecords = (data: Uint8Array): Map<string, string> | undefined => {
  const records = new Map<string, string>()
  let at = 0
  while (at < data.length) {
    let space = at
    while (space < data.length && data[space] !== 0x20) space++
    const lengthText = ascii(data, at, space - at)
    if (!/^[1-9][0-9]*$/.test(lengthText)) return undefined
    const length = parseInt(lengthText, 10)
    const end = at + length
    if (end > data.length || data[end - 1] !== 0x0a) return undefined
    const record = decodeName(data.subarray(space + 1, end - 1))
    if (record === undefined) return undefined
    const eq = record.indexOf("=")
    if (eq <= 0) return undefined
    records.set(record.slice(0, eq), record.slice(eq + 1))
    at = end
  }
  return records
}

const roundUp = (size: number): number => Math.ceil(size / BLOCK) * BLOCK

/** The push parser over the decompressed tar stream. */
export class TarParser {
  readonly files: Array<ArchiveFile> = []
  private readonly index = new PathIndex()
  private header = new Uint8Array(BLOCK)
  private headerFill = 0
  private pending: Pending | undefined
  private remaining = 0 // content bytes left in the pending entry
  private paddingLeft = 0
  private consumed = 0 // bytes of tar stream consumed so far
  private entries = 0
  private zeroBlocks = 0
  private extended: { path?: string; size?: number } = {}

  constructor(private readonly options: ReadOptions) {}

  /** Feeds decompressed bytes; returns a problem to stop the read. */
  push(chunk: Uint8Array): ArchiveProblem | undefined {
    let at = 0
    while (at < chunk.length) {
      if (this.pending !== undefined) {
        const used = this.feedPending(chunk, at)
        if (typeof used !== "number") return used
        at += used
        continue
      }
      const take = Math.min(BLOCK - this.headerFill, chunk.length - at)
      this.header.set(chunk.subarray(at, at + take), this.headerFill)
      this.headerFill += take
      at += take
      this.consumed += take
      if (this.headerFill === BLOCK) {
        this.headerFill = 0
        const p = this.onBlock(this.header)
        if (p !== undefined) return p
      }
    }
    return undefined
  }

  /** The stream ended; anything but a completed archive is truncation. */
  end(): ArchiveProblem | undefined {
    if (this.zeroBlocks >= 2 && this.headerFill === 0 && this.pending === undefined) return undefined
    return problem("PACK_CORRUPT", "the tar stream ends before its end-of-archive blocks")
  }

  private feedPending(chunk: Uint8Array, at: number): number | ArchiveProblem {
    const pending = this.pending!
    let take: number
    if (this.remaining > 0) {
      take = Math.min(this.remaining, chunk.length - at)
      const slice = chunk.subarray(at, at + take)
      if (pending.kind === "file") pending.sink.write(slice)
      else if (pending.kind === "extended") pending.parts.push(Uint8Array.from(slice))
      this.remaining -= take
      if (this.remaining === 0) this.paddingLeft = pending.padding
    } else {
      take = Math.min(this.paddingLeft, chunk.length - at)
      this.paddingLeft -= take
    }
    this.consumed += take
    const p = this.maybeFinish()
    return p ?? take
  }

  /** Completes the pending entry once its content and padding are consumed. */
  private maybeFinish(): ArchiveProblem | undefined {
    if (this.remaining !== 0 || this.paddingLeft !== 0) return undefined
    const pending = this.pending!
    this.pending = undefined
    if (pending.kind === "file") this.files.push(pending.sink.finish())
    if (pending.kind === "extended") return this.applyExtended(pending.type, Buffer.concat(pending.parts))
    return undefined
  }

  private onBlock(block: Uint8Array): ArchiveProblem | undefined {
    if (this.zeroBlocks >= 2) {
      // After the end-of-archive: only zero padding (tar pads to a 10 KiB record) may follow.
      return isZeroBlock(block) ? undefined : problem("PACK_CORRUPT", "data follows the tar end-of-archive blocks")
    }
    if (isZeroBlock(block)) {
      if (this.extended.path !== undefined || this.extended.size !== undefined) {
        return problem("PACK_CORRUPT", "an extended header is followed by the end of the archive")
      }
      this.zeroBlocks++
      return undefined
    }
    if (this.zeroBlocks > 0) return problem("PACK_CORRUPT", "a tar header follows an end-of-archive block")
    return this.onHeader(block)
  }

  /** Applies a pax (`x`, `g`) or GNU long-name (`L`) header to the entry that follows it. */
  private applyExtended(type: "x" | "g" | "L", data: Uint8Array): ArchiveProblem | undefined {
    // A second name for the same entry: GNU tar takes the pax path, Python's tarfile the outer
    // header's, so the name we check need not be the name extracted.
    const twice = problem("PACK_CORRUPT", "an entry is named or sized by two extended headers")
    if (type === "L") {
      if (this.extended.path !== undefined) return twice
      const nul = data.indexOf(0)
      const name = decodeName(data.subarray(0, nul === -1 ? data.length : nul))
      if (name === undefined) return problem("PACK_PATH_INVALID", "a GNU long name is not valid UTF-8")
      this.extended.path = name
      return undefined
    }
    const records = paxRecords(data)
    if (records === undefined) return problem("PACK_CORRUPT", "a pax extended header is malformed")
    // GNU sparse records rename and resize the entry in GNU tar and Python's tarfile
    // (`GNU.sparse.name` wins over `path`), so they would extract a file we never checked.
    if ([...records.keys()].some((key) => key.startsWith("GNU.sparse."))) {
      return problem("PACK_ENTRY_TYPE_UNSUPPORTED", "a pax header describes a GNU sparse file")
    }
    if (type === "g") {
      if (records.has("path") || records.has("size") || records.has("linkpath")) {
        return problem("PACK_FORMAT_UNSUPPORTED", "a pax global header sets path, size or linkpath")
      }
      return undefined
    }
    const path = records.get("path")
    if (path !== undefined) {
      if (this.extended.path !== undefined) return twice
      this.extended.path = path
    }
    const size = records.get("size")
    if (size !== undefined) {
      if (this.extended.size !== undefined) return twice
      if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) {
        return problem("PACK_CORRUPT", "a pax size is not a decimal integer")
      }
      this.extended.size = Number(size)
    }
    return undefined
  }

  private onHeader(header: Uint8Array): ArchiveProblem | undefined {
    const magic = ascii(header, 257, 6)
    const posix = magic === "ustar" && header[262] === 0
    const gnu = magic === "ustar " || (magic === "ustar" && header[262] === 0x20)
    if (!posix && !gnu) return problem("PACK_FORMAT_UNSUPPORTED", "the tar stream is not ustar or GNU tar")
    if (!checksumOk(header)) return problem("PACK_CORRUPT", "a tar header checksum does not match")

    const type = String.fromCharCode(header[156]!)
    const headerSize = numeric(header, 124, 12)
    if (headerSize === undefined) return problem("PACK_CORRUPT", "a tar header size is malformed")
    const size = type === "x" || type === "g" || type === "L" ? headerSize : (this.extended.size ?? headerSize)
    // Refuse at the header when the declared content would carry the stream past the limit.
    if (this.consumed + roundUp(size) > this.options.maxUncompressedBytes) {
      return problem("PACK_UNCOMPRESSED_TOO_LARGE", `a tar entry declares ${size} bytes, past the uncompressed limit`)
    }
    const padding = roundUp(size) - size

    if (type === "x" || type === "g" || type === "L") {
      if (size > MAX_EXTENDED_HEADER) return problem("PACK_CORRUPT", "a tar extended header is too large")
      return this.startPending({ kind: "extended", type, parts: [], size, padding }, size)
    }

    // GNU headers keep times and sparse data where POSIX keeps a name prefix, and extractors differ:
    // GNU tar ignores those bytes, Python's tarfile prepends them to the name. Bytes there would
    // make the path we check differ from the path written, so a GNU header must leave them empty.
    if (gnu && header.subarray(345, 500).some((byte) => byte !== 0)) {
      return problem("PACK_CORRUPT", "a GNU tar header carries data where POSIX readers find a name prefix")
    }
    let name: string | undefined = this.extended.path
    if (name === undefined) {
      const nameEnd = header.subarray(0, 100).indexOf(0)
      const nameBytes = header.subarray(0, nameEnd === -1 ? 100 : nameEnd)
      const prefixEnd = header.subarray(345, 500).indexOf(0)
      const prefixBytes = posix ? header.subarray(345, prefixEnd === -1 ? 500 : 345 + prefixEnd) : new Uint8Array(0)
      const base = decodeName(nameBytes)
      const prefix = decodeName(prefixBytes)
      if (base === undefined || prefix === undefined) return problem("PACK_PATH_INVALID", "a tar entry name is not valid UTF-8")
      name = prefix === "" ? base : `${prefix}/${base}`
    }
    this.extended = {}

    if (++this.entries > this.options.maxEntries) {
      return problem("PACK_TOO_MANY_ENTRIES", `the archive has more than ${this.options.maxEntries} entries`)
    }
    if (type === "1" || type === "2" || type === "K") {
      return problem("PACK_SYMLINK", "the archive contains a link", name)
    }
    const regular = type === "0" || type === "\0" || type === "7"
    if (!regular && type !== "5") {
      return problem("PACK_ENTRY_TYPE_UNSUPPORTED", `the archive contains an entry of tar type '${type}'`, name)
    }
    const normalised = normalisePath(name)
    if (normalised._tag === "Bad") return normalised.problem
    const directory = type === "5"
    if (directory) {
      if (size !== 0) return problem("PACK_CORRUPT", "a tar directory entry has content", name)
      if (normalised.path === "") return undefined // "./": the extraction root itself
      return checkRoot(normalised.path, true, name, this.options.root) ?? this.index.add(normalised.path, true, name)
    }
    if (normalised.directory || normalised.path === "") {
      return problem("PACK_PATH_INVALID", "a file entry has a directory name", name)
    }
    const outside = checkRoot(normalised.path, false, name, this.options.root)
    if (outside !== undefined) return outside
    const collision = this.index.add(normalised.path, false, name)
    if (collision !== undefined) return collision
    const limit = this.options.retain.get(normalised.path)
    if (limit !== undefined && size > limit) {
      return problem("PACK_RETAINED_FILE_TOO_LARGE", `'${normalised.path}' is larger than ${limit} bytes`, name)
    }
    const sink = new FileSink(normalised.path, size, limit !== undefined)
    return this.startPending({ kind: "file", sink, padding }, size)
  }

  private startPending(pending: Pending, size: number): ArchiveProblem | undefined {
    this.pending = pending
    this.remaining = size
    this.paddingLeft = 0
    return this.maybeFinish()
  }
}

/**
 * Reads a `.tar.gz`, stopping at the first problem. Rejects only on a bug in the parser (an
 * exception in a stream handler would otherwise escape as an uncaught exception).
 */
export const readTarGz = (bytes: Uint8Array, options: ReadOptions): Promise<ReadResult> =>
  new Promise<ReadResult>((resolve, reject) => {
    const parser = new TarParser(options)
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK })
    let produced = 0
    let settled = false
    const finish = (settle: () => void) => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener("abort", onAbort)
      gunzip.destroy()
      settle()
    }
    const done = (result: ReadResult) => finish(() => resolve(result))
    const guarded = <A extends Array<unknown>>(handler: (...args: A) => void) => (...args: A) => {
      try {
        handler(...args)
      } catch (error) {
        finish(() => reject(error))
      }
    }
    const onAbort = () => done(refused(problem("PACK_CORRUPT", "the read was aborted")))
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener("abort", onAbort)

    gunzip.on("data", guarded((chunk: Buffer) => {
      if (settled) return
      produced += chunk.length
      if (produced > options.maxUncompressedBytes) {
        return done(refused(problem("PACK_UNCOMPRESSED_TOO_LARGE", `the archive inflates past ${options.maxUncompressedBytes} bytes`)))
      }
      const p = parser.push(chunk)
      if (p !== undefined) done(refused(p))
    }))
    gunzip.on("error", (error: Error) => done(refused(problem("PACK_CORRUPT", `gunzip failed: ${error.message}`))))
    gunzip.on("end", guarded(() => {
      const p = parser.end()
      done(p === undefined ? { _tag: "Read", files: parser.files } : refused(p))
    }))
    gunzip.end(bytes)
  })
