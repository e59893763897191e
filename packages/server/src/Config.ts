/**
 * The server's settings, from `Config` (environment variables under `npm start`). Every setting has
 * a default that suits a local run; a setting that is present but wrong stops start-up with a
 * message naming it (see {@link describeConfigError}).
 */
import { Postgres } from "@clawbounties/adapter-postgres"
import { Cause, Config, ConfigError, Duration, Option } from "effect"
import * as RateLimits from "./RateLimits.js"

export interface Settings {
  readonly port: number
  readonly host: string
  /** `postgres://...` switches to PostgreSQL; absent means the SQLite file {@link Settings.sqliteFile}. */
  readonly databaseUrl: Option.Option<string>
  readonly sqliteFile: string
  /** Statement texts each PostgreSQL connection prepares once; 0 for a pooler in transaction mode. */
  readonly pgPreparedStatements: number
  /** Each PostgreSQL connection's `lock_timeout` and `statement_timeout`; 0 sets none. */
  readonly pgLockTimeout: Duration.Duration
  readonly pgStatementTimeout: Duration.Duration
  /** Largest request body accepted, in bytes. */
  readonly bodyLimitBytes: number
  /** How often the deadline sweep runs. */
  readonly sweepInterval: Duration.Duration
  /** How often due webhook deliveries are made. */
  readonly webhookDeliveryInterval: Duration.Duration
  /** Where `npm start` keeps its SQLite file and the generated operator token. */
  readonly dataDir: string
  /** Per-caller rate limits (see `RateLimits`). */
  readonly rateLimits: RateLimits.Settings
}

export const DEFAULT_PORT = 8787
export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024
export const DEFAULT_SWEEP_INTERVAL = Duration.seconds(15)
export const DEFAULT_WEBHOOK_DELIVERY_INTERVAL = Duration.seconds(5)
export const DEFAULT_DATA_DIR = "./data"

const between = (min: number, max: number) => (n: number) => n >= min && n <= max
const notBlank = (text: string) => text.trim().length > 0

/** A PostgreSQL timeout: 0 (none), or 1 ms to 1 day (PostgreSQL counts whole milliseconds). */
const pgTimeout = (name: string, fallback: Duration.Duration) =>
  Config.duration(name).pipe(
    Config.validate({
      message: `${name} must be 0 seconds (none) or between 1 millisecond and 1 day`,
      validation: (d) => Duration.isZero(d) || Duration.between(d, { minimum: Duration.millis(1), maximum: Duration.days(1) })
    }),
    Config.withDefault(fallback)
  )

const MAX_RATE = 1_000_000

/** `RATE_LIMIT_<CLASS>_PER_MINUTE` (0 turns the class off) and `RATE_LIMIT_<CLASS>_BURST`. */
const rateLimit = (name: string, defaults: RateLimits.Limit): Config.Config<RateLimits.Limit> =>
  Config.all({
    perMinute: Config.integer(`RATE_LIMIT_${name}_PER_MINUTE`).pipe(
      Config.validate({ message: `RATE_LIMIT_${name}_PER_MINUTE must be between 0 (no limit) and ${MAX_RATE}`, validation: between(0, MAX_RATE) }),
      Config.withDefault(defaults.perMinute)
    ),
    burst: Config.integer(`RATE_LIMIT_${name}_BURST`).pipe(
      Config.validate({ message: `RATE_LIMIT_${name}_BURST must be between 1 and ${MAX_RATE}`, validation: between(1, MAX_RATE) }),
      Config.withDefault(defaults.burst)
    )
  })

const rateLimits: Config.Config<RateLimits.Settings> = Config.all({
  expensive: rateLimit("EXPENSIVE", RateLimits.defaults.expensive),
  anonymous: rateLimit("ANONYMOUS", RateLimits.defaults.anonymous),
  write: rateLimit("WRITE", RateLimits.defaults.write),
  maxCallers: Config.integer("RATE_LIMIT_MAX_CALLERS").pipe(
    Config.validate({ message: "RATE_LIMIT_MAX_CALLERS must be between 100 and 10000000", validation: between(100, 10_000_000) }),
    Config.withDefault(RateLimits.defaults.maxCallers)
  ),
  trustedProxies: Config.integer("TRUST_PROXY").pipe(
    Config.validate({ message: "TRUST_PROXY must be the number of proxies in front of the server, 0 to 10", validation: between(0, 10) }),
    Config.withDefault(RateLimits.defaults.trustedProxies)
  )
})

export const config: Config.Config<Settings> = Config.all({
  port: Config.integer("PORT").pipe(
    Config.validate({ message: "PORT must be an integer between 0 and 65535", validation: between(0, 65_535) }),
    Config.withDefault(DEFAULT_PORT)
  ),
  host: Config.string("HOST").pipe(
    Config.validate({ message: "HOST must not be empty", validation: notBlank }),
    Config.withDefault(DEFAULT_HOST)
  ),
  databaseUrl: Config.option(
    Config.string("DATABASE_URL").pipe(
      Config.validate({
        message: "DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for SQLite)",
        validation: (url) => /^postgres(ql)?:\/\/\S+$/.test(url)
      })
    )
  ),
  // Blank is refused: SQLite would open "" as a temporary database, deleted at exit with every
  // record in it, and an empty DATA_DIR would put the database file at the filesystem root.
  dataDir: Config.string("DATA_DIR").pipe(
    Config.validate({ message: "DATA_DIR must not be empty", validation: notBlank }),
    Config.withDefault(DEFAULT_DATA_DIR)
  ),
  sqliteFile: Config.option(Config.string("SQLITE_FILE").pipe(
    Config.validate({ message: "SQLITE_FILE must not be empty (leave it unset for DATA_DIR/clawbounties.db)", validation: notBlank })
  )),
  pgPreparedStatements: Config.integer("PG_PREPARED_STATEMENTS").pipe(
    Config.validate({ message: "PG_PREPARED_STATEMENTS must be between 0 and 10000", validation: between(0, 10_000) }),
    Config.withDefault(Postgres.DEFAULT_PREPARED_STATEMENTS)
  ),
  pgLockTimeout: pgTimeout("PG_LOCK_TIMEOUT", Postgres.DEFAULT_LOCK_TIMEOUT),
  pgStatementTimeout: pgTimeout("PG_STATEMENT_TIMEOUT", Postgres.DEFAULT_STATEMENT_TIMEOUT),
  bodyLimitBytes: Config.integer("BODY_LIMIT_BYTES").pipe(
    Config.validate({
      message: "BODY_LIMIT_BYTES must be between 1024 and 67108864",
      validation: between(1024, 64 * 1024 * 1024)
    }),
    Config.withDefault(DEFAULT_BODY_LIMIT_BYTES)
  ),
  sweepInterval: Config.duration("SWEEP_INTERVAL").pipe(
    Config.validate({
      message: "SWEEP_INTERVAL must be between 1 second and 1 hour",
      validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.hours(1) })
    }),
    Config.withDefault(DEFAULT_SWEEP_INTERVAL)
  ),
  webhookDeliveryInterval: Config.duration("WEBHOOK_DELIVERY_INTERVAL").pipe(
    Config.validate({
      message: "WEBHOOK_DELIVERY_INTERVAL must be between 1 second and 1 hour",
      validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.hours(1) })
    }),
    Config.withDefault(DEFAULT_WEBHOOK_DELIVERY_INTERVAL)
  ),
  rateLimits
}).pipe(
  Config.map(({ sqliteFile, ...rest }): Settings => ({
    ...rest,
    sqliteFile: Option.getOrElse(sqliteFile, () => `${rest.dataDir.replace(/\/+$/, "")}/clawbounties.db`)
  }))
)

/**
 * A start-up failure as one line per problem, each naming the setting (`PORT: ...`). Config errors
 * carry the path of the variable; anything else is reported as it is.
 */
/** `PORT: must be ...`; a check across settings names them in its message and has no path. */
const named = (path: ReadonlyArray<string>, message: string) => (path.length === 0 ? message : `${path.join(".")}: ${message}`)

export const describeConfigError = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left: ReadonlyArray<string>, right: ReadonlyArray<string>) => [...left, ...right],
    orCase: (_, left: ReadonlyArray<string>, right: ReadonlyArray<string>) => [...left, ...right],
    invalidDataCase: (_, path, message) => [named(path, message)],
    missingDataCase: (_, path, message) => [named(path, message)],
    sourceUnavailableCase: (_, path, message) => [named(path, message)],
    unsupportedCase: (_, path, message) => [named(path, message)]
  })

/** Config errors found anywhere in a start-up failure's cause. */
export const configErrorsOf = <E>(cause: Cause.Cause<E>): ReadonlyArray<string> =>
  Cause.failures(cause).pipe((failures) =>
    Array.from(failures).flatMap((failure) => ConfigError.isConfigError(failure) ? describeConfigError(failure) : [])
  )
