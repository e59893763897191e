/**
 * The command lines: `clawbounties-sim` (a batch simulation against the in-process engine or a
 * running server, writing its artifacts) and `clawbounties-gate` (the readiness gate against a
 * server). Each exits non-zero when the run is not clean (a failed or stuck job, a violated
 * invariant) or the gate is blocked, so CI can use them directly.
 */
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Config, Console, Effect, Exit, Logger, LogLevel, Option, Redacted } from "effect"
import { existsSync } from "node:fs"
import * as Artifacts from "./Artifacts.js"
import * as Faults from "./Faults.js"
import * as Gate from "./Gate.js"
import * as Runner from "./Runner.js"
import * as Simulate from "./Simulate.js"
import * as Simulation from "./Simulation.js"

const operatorToken = Options.redacted("operator-token").pipe(
  Options.withFallbackConfig(Config.redacted("OPERATOR_TOKEN")),
  Options.withDescription("operator token of the target (or OPERATOR_TOKEN): funding, disputes, sweeps, reconcile"),
  Options.optional
)
const out = Options.directory("out").pipe(Options.withDefault(Artifacts.DEFAULT_ROOT), Options.withDescription(`where the artifacts go (default ${Artifacts.DEFAULT_ROOT})`))

/** A progress bar on a terminal, a plain line per 10% otherwise (CI logs). */
export const progressReporter = (stream: NodeJS.WriteStream = process.stderr) => {
  const tty = stream.isTTY === true
  let lastPhase = ""
  let lastDecile = -1
  return (p: Runner.Progress) => {
    if (tty) {
      const width = 30
      const filled = Math.round((p.done / Math.max(1, p.total)) * width)
      stream.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.done}/${p.total} ok ${p.succeeded} failed ${p.failed} limit ${p.limit} ${p.phase.padEnd(10)}`)
      if (p.phase === "done") stream.write("\n")
      return
    }
    const decile = Math.floor((p.done / Math.max(1, p.total)) * 10)
    if (p.phase !== lastPhase || (p.phase === "wave" && decile !== lastDecile)) {
      stream.write(`${p.phase} ${p.done}/${p.total} ok ${p.succeeded} failed ${p.failed} limit ${p.limit}\n`)
      lastPhase = p.phase
      lastDecile = decile
    }
  }
}

const share = (name: string, fallback: number, description: string) =>
  Options.float(name).pipe(Options.withDefault(fallback), Options.withDescription(`${description} (default ${fallback})`))

/** The most jobs one run plans: the plan and the job records are held in memory. */
export const MAX_TOTAL = 1_000_000

/** An hour: a request that waits longer for a rate-limited server is better failed and reported. */
const MAX_RATE_LIMIT_WAIT_SECONDS = 3600

/** `--rate-limit-wait-seconds`, for both commands. */
const rateLimitWait = Options.integer("rate-limit-wait-seconds").pipe(
  Options.withDefault(Simulation.defaults.retry.rateLimitWaitMs / 1000),
  Options.withDescription(`how long one request may wait in all for a rate-limited server's Retry-After, 0 to ${MAX_RATE_LIMIT_WAIT_SECONDS} seconds (default ${Simulation.defaults.retry.rateLimitWaitMs / 1000})`)
)

interface SimFlags {
  readonly total: number
  readonly maxConcurrency: number
  readonly requesters: number
  readonly workers: number
  readonly approve: number
  readonly reject: number
  readonly silent: number
  readonly invalid: number
  readonly abandon: number
  readonly faultShare: number
  readonly fundingFactor: number
  readonly deadlineSeconds: number
  readonly latencyTarget: number
  readonly rateLimitWait: number
  readonly faults: ReadonlyArray<string>
  readonly target: string | undefined
  readonly sqliteFile: string | undefined
  /** Whether the target's operator token was given (a run against a server needs it). */
  readonly hasOperatorToken: boolean
}

/** The line for a flag out of its range, if it is. */
const outOfRange = (flag: string, value: number, min: number, max: number): string | undefined =>
  Number.isFinite(value) && value >= min && value <= max ? undefined : `--${flag} must be from ${min} to ${max} (got ${value})`

/** What is wrong with the flags, one line each (empty when the run can start). */
export const simProblems = (f: SimFlags): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const between = (flag: string, value: number, min: number, max: number) => {
    const problem = outOfRange(flag, value, min, max)
    if (problem !== undefined) problems.push(problem)
  }
  between("total", f.total, 1, MAX_TOTAL)
  between("max-concurrency", f.maxConcurrency, 1, 1000)
  between("requesters", f.requesters, 1, 10_000)
  between("workers", f.workers, 1, 10_000)
  for (const [flag, value] of [["approve-share", f.approve], ["reject-share", f.reject], ["silent-share", f.silent]] as const) between(flag, value, 0, 1_000)
  if (f.approve === 0 && f.reject === 0 && f.silent === 0) problems.push("--approve-share, --reject-share and --silent-share cannot all be 0")
  for (const [flag, value] of [["invalid-share", f.invalid], ["abandon-share", f.abandon], ["fault-share", f.faultShare]] as const) between(flag, value, 0, 1)
  between("funding-factor", f.fundingFactor, 0, 1_000)
  between("deadline-seconds", f.deadlineSeconds, 1, 90 * 24 * 3600)
  between("backpressure-latency-ms", f.latencyTarget, 1, 3_600_000)
  between("rate-limit-wait-seconds", f.rateLimitWait, 0, MAX_RATE_LIMIT_WAIT_SECONDS)
  const unknown = f.faults.filter((k) => !(Faults.kinds as ReadonlyArray<string>).includes(k))
  if (unknown.length > 0) problems.push(`unknown fault kinds: ${unknown.join(", ")} (known: ${Faults.kinds.join(", ")})`)
  if (f.faults.includes("server_restart")) {
    problems.push("--faults server_restart needs a server the simulator can restart: run it from the testkit API with LocalServer")
  }
  if (f.target !== undefined && f.faults.some((k) => k.startsWith("db_"))) {
    problems.push("database faults (db_*) are injected in-process only: drop --target or the db_* kinds")
  }
  if (f.target !== undefined && f.sqliteFile !== undefined) problems.push("--sqlite-file is for in-process runs: drop it or --target")
  if (f.target !== undefined && !f.hasOperatorToken) {
    problems.push("--target needs the server's operator token (--operator-token or OPERATOR_TOKEN): the run funds requesters, resolves disputes, sweeps and reconciles as the operator")
  }
  if (f.sqliteFile !== undefined && existsSync(f.sqliteFile)) {
    problems.push(`--sqlite-file ${f.sqliteFile} already exists: a run starts from an empty database (its ids restart), so pass a new path`)
  }
  return problems
}

const d = Simulation.defaults

/** An integer flag with its default, described with the default named (the help shows no defaults). */
const integer = (name: string, fallback: number, description: string) =>
  Options.integer(name).pipe(Options.withDefault(fallback), Options.withDescription(`${description} (default ${fallback})`))

export const sim = Command.make("clawbounties-sim", {
  total: integer("total", d.total, `jobs to run, 1 to ${MAX_TOTAL}`),
  maxConcurrency: integer("max-concurrency", d.maxConcurrency, "jobs in flight at most, 1 to 1000; backpressure may run fewer"),
  seed: integer("seed", d.seed, "the seed every decision is drawn from: one seed, one run"),
  target: Options.text("target").pipe(Options.withDescription("a server URL; the in-process engine when absent"), Options.optional),
  sqliteFile: Options.text("sqlite-file").pipe(Options.withDescription("in-process on this SQLite file (a new path) instead of :memory:"), Options.optional),
  operatorToken,
  out,
  requesters: integer("requesters", d.requesters, "requesters the jobs are spread over, 1 to 10000"),
  workers: integer("workers", d.workers, "workers the jobs are spread over, 1 to 10000"),
  approve: share("approve-share", d.decisions.approve, "weight of requesters that approve"),
  reject: share("reject-share", d.decisions.reject, "weight of requesters that reject (an operator resolves the dispute)"),
  silent: share("silent-share", d.decisions.silent, "weight of silent requesters (the review deadline approves)"),
  invalid: share("invalid-share", d.invalidShare, "share of jobs whose first submission is a tampered proof"),
  abandon: share("abandon-share", d.abandonShare, "share of jobs whose worker never submits"),
  faults: Options.text("faults").pipe(Options.withDefault(""), Options.withDescription("database faults to inject, comma-separated: db_before_commit, db_after_commit (in-process only; server_restart runs from the testkit API with LocalServer) (default none)")),
  faultShare: share("fault-share", 0.2, "share of jobs that get a database fault (when --faults has one)"),
  fundingPolicy: Options.choice("funding-policy", ["abort", "continue"]).pipe(
    Options.withDefault(d.funding.policy),
    Options.withDescription(`when the funding preflight finds a requester short or a credit fails: abort (every job skipped), or continue and count INSUFFICIENT_FUNDS in its own bucket (default ${d.funding.policy})`)
  ),
  fundingFactor: share("funding-factor", d.funding.factor, "funding as a multiple of what the plan needs (below 1 underfunds)"),
  noFunding: Options.boolean("no-funding").pipe(Options.withDescription("credit requesters nothing: each run's requesters are new, so posts fail INSUFFICIENT_FUNDS (to exercise that bucket with --funding-policy continue)")),
  deadlineSeconds: integer("deadline-seconds", d.deadlineSeconds, "work and review deadline of the abandoned and silent jobs, which the run then sweeps past"),
  latencyTarget: integer("backpressure-latency-ms", d.backpressure.latencyTargetMs, "a step slower than this cuts the jobs in flight, as a retryable error does"),
  rateLimitWait,
  noBackpressure: Options.boolean("no-backpressure").pipe(Options.withDescription("keep --max-concurrency jobs in flight whatever the latency and retryable errors"))
}, (o) => Effect.gen(function* () {
  const kinds = o.faults.split(",").map((k) => k.trim()).filter((k) => k.length > 0)
  const problems = simProblems({
    ...o,
    faults: kinds,
    target: Option.getOrUndefined(o.target),
    sqliteFile: Option.getOrUndefined(o.sqliteFile),
    hasOperatorToken: Option.isSome(o.operatorToken)
  })
  if (problems.length > 0) return yield* Effect.fail(new Error(problems.join("\n")))
  const config: Simulation.Config = {
    ...Simulation.defaults,
    total: o.total,
    maxConcurrency: o.maxConcurrency,
    seed: o.seed,
    requesters: o.requesters,
    workers: o.workers,
    decisions: { approve: o.approve, reject: o.reject, silent: o.silent },
    invalidShare: o.invalid,
    abandonShare: o.abandon,
    faults: { share: kinds.length > 0 ? o.faultShare : 0, kinds: kinds as Array<Faults.Kind> },
    funding: { enabled: !o.noFunding, factor: o.fundingFactor, policy: o.fundingPolicy },
    deadlineSeconds: o.deadlineSeconds,
    backpressure: { ...Simulation.defaults.backpressure, enabled: !o.noBackpressure, latencyTargetMs: o.latencyTarget },
    retry: { ...Simulation.defaults.retry, rateLimitWaitMs: o.rateLimitWait * 1000 }
  }
  const onProgress = progressReporter()
  const url = Option.getOrUndefined(o.target)
  const result: Runner.Result = url !== undefined
    ? yield* Simulate.overHttp({ config, url, operatorToken: Option.getOrUndefined(Option.map(o.operatorToken, Redacted.value)), onProgress })
    : yield* Simulate.inProcess({ config, file: Option.getOrUndefined(o.sqliteFile), onProgress })
  const dir = Artifacts.write(result, { root: o.out })
  const s = result.summary
  yield* Console.log([
    `${s.totals.jobs} jobs on ${s.run.target.label} (seed ${s.run.seed}): ${s.totals.succeeded} succeeded, ${s.totals.failed} failed, ${s.totals.skipped} skipped`,
    `${s.throughput.jobs_per_second} jobs/s (wave ${s.throughput.wave_jobs_per_second} jobs/s), job latency p50 ${s.job_latency_ms.p50} ms p95 ${s.job_latency_ms.p95} ms`,
    `stuck: ${s.stuck.jobs} jobs, ${s.stuck.escrows} escrows; invariants ${Runner.invariantsVerdict(s)}; retries ${s.retries.total}; faults fired ${s.faults.fired}, restarts ${s.faults.restarts.length}`,
    `artifacts: ${dir}`
  ].join("\n"))
  const clean = s.invariants.ok && s.totals.failed === 0 && s.totals.skipped === 0 && s.stuck.jobs === 0 && s.stuck.escrows === 0
  if (!clean) return yield* Effect.fail(new Error("the run was not clean (see summary.md)"))
}))

export const gate = Command.make("clawbounties-gate", {
  target: Options.text("target").pipe(Options.withDescription("the server URL to check")),
  operatorToken,
  out,
  rateLimitWait
}, (o) => Effect.gen(function* () {
  const problem = outOfRange("rate-limit-wait-seconds", o.rateLimitWait, 0, MAX_RATE_LIMIT_WAIT_SECONDS)
  if (problem !== undefined) return yield* Effect.fail(new Error(problem))
  const report = yield* Gate.run({
    url: o.target,
    operatorToken: Option.getOrUndefined(Option.map(o.operatorToken, Redacted.value)),
    rateLimitWaitMs: o.rateLimitWait * 1000
  })
  const dir = Gate.write(report, o.out)
  yield* Console.log(`${report.recommendation}: ${report.checks.filter((c) => c.status === "pass").length}/${report.checks.length} checks passed, ${report.blockers.length} blockers`)
  for (const b of report.blockers) yield* Console.log(`  blocker ${b.id}: ${b.detail}`)
  yield* Console.log(`report: ${dir}`)
  if (report.recommendation !== "READY_FOR_PROD_GOVERNANCE_REVIEW") return yield* Effect.fail(new Error("the gate is blocked"))
}))

/**
 * Runs `command` on `process.argv` as the process's main program. The engine's routine logs (each
 * deadline sweep) are muted: the run's own output is its summary. An unclean run, a blocked gate or
 * bad flags print their lines and exit 1; the CLI reports its own parse errors; a defect is printed
 * whole, never swallowed. A run stopped by a signal exits 130.
 */
export const main = <Name extends string, E, A>(command: Command.Command<Name, never, E, A>, name: string) =>
  Command.run(command, { name, version: "0.0.0" })(process.argv).pipe(
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.tapErrorCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) return failure.value instanceof Error ? Console.error(failure.value.message) : Effect.void
      return Console.error(Cause.pretty(cause))
    }),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      // Stopped part-way (Ctrl-C, a CI timeout's SIGTERM) is no pass: exit 130, as a shell does.
      teardown: (exit, onExit) => {
        if (Exit.isSuccess(exit)) return onExit(0)
        if (!Cause.isInterruptedOnly(exit.cause)) return onExit(1)
        process.stderr.write("interrupted: the run did not finish and wrote no report\n")
        onExit(130)
      }
    })
  )
