/**
 * The engine as one layer: storage (SQLite by default, PostgreSQL for a `postgres://` URL), migrated
 * at start, and every service the commands need. The server builds a `ManagedRuntime` from it once.
 */
import { SqlClient } from "@effect/sql"
import type { Ids } from "@clawbounties/domain"
import { Engine, EventSignals, type Identities, type Tokens, type Webhooks } from "@clawbounties/marketplace"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { EventRelay, Postgres } from "@clawbounties/adapter-postgres"
import { type Duration, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"

/** Every service an engine command may require. */
export type Services = Engine.Services

const migrations = Engine.migrations

export type Store =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | {
    readonly _tag: "postgres"
    readonly url: string
    readonly preparedStatements?: number | undefined
    /** `Postgres.Options.lockTimeout` and `statementTimeout`: the adapter's defaults when unset. */
    readonly lockTimeout?: Duration.DurationInput | undefined
    readonly statementTimeout?: Duration.DurationInput | undefined
  }

/** Which store a `DATABASE_URL` (or its absence) means. */
export const storeOf = (
  settings: {
    readonly databaseUrl: Option.Option<string>
    readonly sqliteFile: string
    readonly pgPreparedStatements?: number | undefined
    readonly pgLockTimeout?: Duration.DurationInput | undefined
    readonly pgStatementTimeout?: Duration.DurationInput | undefined
  }
): Store =>
  Option.match(settings.databaseUrl, {
    onNone: () => ({ _tag: "sqlite", filename: settings.sqliteFile }),
    onSome: (url) => ({
      _tag: "postgres",
      url,
      preparedStatements: settings.pgPreparedStatements,
      lockTimeout: settings.pgLockTimeout,
      statementTimeout: settings.pgStatementTimeout
    })
  })

/** A store's `SqlClient`, migrated. A SQLite file's directory is created first. */
export const storeLayer = (store: Store) =>
  store._tag === "postgres"
    ? Postgres.layer({
      url: store.url,
      migrations,
      preparedStatements: store.preparedStatements,
      lockTimeout: store.lockTimeout,
      statementTimeout: store.statementTimeout
    })
    : Layer.unwrapEffect(Effect.sync(() => {
      if (store.filename !== ":memory:") mkdirSync(dirname(store.filename), { recursive: true })
      return Sqlite.layer({ filename: store.filename, migrations })
    }))

/**
 * Wake-ups for waiting event polls. On PostgreSQL the replicas relay them to one another (LISTEN /
 * NOTIFY, a connection of its own per server); a SQLite file has one server, so in-process suffices.
 */
export const signalsLayer = (store: Store): Layer.Layer<EventSignals.EventSignals> =>
  store._tag === "postgres" ? EventRelay.layer({ url: store.url }) : EventSignals.EventSignals.layer

export interface Options {
  readonly store: Store
  /** The operator token's layer; `Tokens.layer` (reads `OPERATOR_TOKEN`) by default. */
  readonly operatorToken?: Layer.Layer<Tokens.OperatorToken, unknown> | undefined
  /** Ids; time-ordered by default (tests may use counters). */
  readonly ids?: Layer.Layer<Ids.IdGen> | undefined
  /** Registration challenge settings; read from `Config` by default (tests may fix them). */
  readonly identities?: Layer.Layer<Identities.IdentitySettings, unknown> | undefined
  /** Wake-ups for waiting event polls; in this process only by default ({@link signalsLayer}). */
  readonly signals?: Layer.Layer<EventSignals.EventSignals> | undefined
  /** Webhook settings and outbound HTTP; read from `Config` over Node's HTTP client by default. */
  readonly webhooks?: Layer.Layer<Webhooks.Services, unknown> | undefined
}

/** The services over a `SqlClient`: each reads its settings from `Config`. */
export const servicesLayer = <SE, SR>(
  store: Layer.Layer<SqlClient.SqlClient, SE, SR>,
  options: Pick<Options, "operatorToken" | "ids" | "identities" | "signals" | "webhooks"> = {}
) =>
  Engine.layer(store, {
    ...Engine.liveParts,
    ids: options.ids ?? Engine.liveParts.ids,
    identities: options.identities ?? Engine.liveParts.identities,
    operatorToken: options.operatorToken ?? Engine.liveParts.operatorToken,
    signals: options.signals,
    webhooks: options.webhooks ?? Engine.liveParts.webhooks
  })

/** The whole engine on one store. */
export const layer = (options: Options) => servicesLayer(storeLayer(options.store), { ...options, signals: options.signals ?? signalsLayer(options.store) })

/** Whether the database answers (readiness). */
export const ping = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT 1 AS ok`
})
