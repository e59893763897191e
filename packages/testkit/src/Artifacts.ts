/**
 * A run's artifacts: `artifacts/simulations/<timestamp>-batch-<N>/` with `summary.json`,
 * `jobs.ndjson` (one line per job: its plan, steps, references, money and outcome; the only
 * machine-dependent fields are under `timings`) and a short `summary.md`. The timestamp is the
 * run's start. Writing files is the CLI's and tests' business, so this module uses `node:fs`
 * directly and is not used by the runner itself.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Runner from "./Runner.js"

export const DEFAULT_ROOT = "artifacts/simulations"

/** `2026-02-11T22-14-08-561Z`: an ISO instant safe for a directory name. */
export const stamp = (iso: string): string => iso.replace(/:/g, "-").replace(/\./g, "-")

export const directoryFor = (summary: Runner.Summary, root: string = DEFAULT_ROOT, label = "batch"): string =>
  join(root, `${stamp(summary.run.started_at)}-${label}-${summary.totals.jobs}`)

/** JSON with bigints as digit strings. */
export const json = (value: unknown, indent?: number): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), indent)

export const ndjson = (jobs: ReadonlyArray<Runner.JobRecord>): string => jobs.map((job) => json(job)).join("\n") + (jobs.length > 0 ? "\n" : "")

/** Text on one markdown line: a server's multi-line error page would otherwise break a table or list. */
export const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, " ")

/** Text as one markdown table cell: on one line, pipes escaped. */
export const tableCell = (text: string): string => oneLine(text).replace(/\|/g, "\\|")

/**
 * A message as one table cell: its first line (a defect's message; the rest is its stack), at most
 * 200 characters.
 */
const messageCell = (message: string): string => {
  const cell = tableCell(message.split("\n", 1)[0]!)
  return cell.length > 200 ? `${cell.slice(0, 199)}…` : cell
}

const table = (rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const [head, ...body] = rows
  return [
    `| ${head!.join(" | ")} |`,
    `|${head!.map(() => "---").join("|")}|`,
    ...body.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")
}

export const markdown = (summary: Runner.Summary): string => {
  const s = summary
  const lines = [
    `# Simulation ${s.run.started_at}: ${s.totals.jobs} jobs`,
    "",
    `Target: ${s.run.target.label}. Seed: ${s.run.seed}. Max concurrency: ${s.run.config.maxConcurrency}.`,
    "",
    `**${s.totals.succeeded} succeeded, ${s.totals.failed} failed, ${s.totals.skipped} skipped.** ` +
      `${s.throughput.jobs_per_second} jobs/s over ${s.throughput.wall_ms} ms ` +
      `(job latency p50 ${s.job_latency_ms.p50} ms, p95 ${s.job_latency_ms.p95} ms). ` +
      `Invariants: ${Runner.invariantsVerdict(s)}. Stuck: ${s.stuck.jobs} jobs, ${s.stuck.escrows} escrows.`,
    "",
    "## Steps",
    "",
    table([
      ["step", "ok", "failed", "expected refusals", "retries", "p50 ms", "p95 ms", "p99 ms", "max ms"],
      ...Object.entries(s.steps).map(([name, st]) => [name, st.ok, st.failed, st.expected_refusals, st.retried_attempts, st.latency_ms.p50, st.latency_ms.p95, st.latency_ms.p99, st.latency_ms.max])
    ]),
    "",
    "## Outcomes",
    "",
    `Bounties: ${Object.entries(s.terminal_states).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}.`,
    `Escrows: ${Object.entries(s.escrow_states).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}.`,
    `Closure types: ${Object.entries(s.closure_types).map(([k, v]) => `${k} ${v.succeeded}/${v.jobs}`).join(", ")}.`,
    `Decisions: approve ${s.decisions.approve}, reject ${s.decisions.reject}, silent ${s.decisions.silent}, abandon ${s.decisions.abandon}, invalid first ${s.decisions.invalid_first}.`,
    `Money: buyer totals ${s.money.buyer_totals_minor}, paid to workers ${s.money.worker_paid_minor}, platform fees ${s.money.platform_fees_minor}, refunded ${s.money.refunded_minor} (minor units).`,
    "",
    "## Errors",
    "",
    Object.keys(s.error_buckets.by_code).length === 0
      ? "No failed steps."
      : table([["code", "class", "count", "message (earliest job)"], ...Object.entries(s.error_buckets.by_code).map(([code, n]) =>
        [code, code === "INSUFFICIENT_FUNDS" ? "INSUFFICIENT_FUNDS" : "", n, messageCell(s.error_buckets.examples[code] ?? "")])]),
    "",
    `Retries: ${s.retries.total} (${Object.entries(s.retries.by_code).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}). ` +
      (s.retries.rate_limited.waits === 0 ? "" : `Rate limited: ${s.retries.rate_limited.waits} waits, ${Math.round(s.retries.rate_limited.waited_ms / 1000)} s in all. `) +
      `Faults: ${s.faults.fired} fired of ${s.faults.planned} planned; restarts ${s.faults.restarts.length}.`,
    `Backpressure: limit ${s.backpressure.min_limit}..${s.backpressure.max_limit}, ${s.backpressure.decreases} decreases, ${s.backpressure.increases} increases.`,
    "",
    "## Invariants",
    "",
    ...s.invariants.results.map((r) => `- ${r.ok ? "✅" : "❌"} ${r.name}${r.ok ? "" : `: ${r.violations.slice(0, 5).join("; ")}`}`),
    ...(s.run.adjustments.length === 0 ? [] : ["", "## Adjustments", "", ...s.run.adjustments.map((a) => `- ${a}`)]),
    ""
  ]
  return lines.join("\n")
}

/** Writes the three files and returns the directory. */
export const write = (result: Runner.Result, options: { readonly root?: string; readonly label?: string } = {}): string => {
  const dir = directoryFor(result.summary, options.root, options.label)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "summary.json"), json(result.summary, 2) + "\n")
  writeFileSync(join(dir, "jobs.ndjson"), ndjson(result.jobs))
  writeFileSync(join(dir, "summary.md"), markdown(result.summary))
  return dir
}
