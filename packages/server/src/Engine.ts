/**
 * The engine as one layer: storage (SQLite by default, PostgreSQL for a `postgres://` URL), migrated
 * at start, and every service the commands need. The server builds a `ManagedRuntime` from it once.
 */
import { SqlClient } from "@effect/sql"
import { Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { Ledger, Migrations } from "@clawbounties/ledger"
import { Entropy, Identities, MarketplaceConfig, Migrations as MarketplaceMigrations, Tokens } from "@clawbounties/marketplace"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Postgres } from "@clawbounties/adapter-postgres"
import { Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"

/** Every service an engine command may require. */
export type Services =
  | SqlClient.SqlClient
  | Ledger.Ledger
  | Ids.IdGen
  | MarketplaceConfig.MarketplaceConfig
  | Limits.Limits
  | Entropy.Entropy
  | Tokens.OperatorToken
  | Identities.IdentitySettings

/** The tables of every package, in dependency order. */
export const migrations: ReadonlyArray<Migrations.MigrationSet> = [Migrations.ledger, MarketplaceMigrations.marketplace]

export type Store =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "postgres"; readonly url: string }

/** Which store a `DATABASE_URL` (or its absence) means. */
export const storeOf = (databaseUrl: Option.Option<string>, sqliteFile: string): Store =>
  Option.match(databaseUrl, {
    onNone: () => ({ _tag: "sqlite", filename: sqliteFile }),
    onSome: (url) => ({ _tag: "postgres", url })
  })

/** A store's `SqlClient`, migrated. A SQLite file's directory is created first. */
export const storeLayer = (store: Store) =>
  store._tag === "postgres"
    ? Postgres.layer({ url: store.url, migrations })
    : Layer.unwrapEffect(Effect.sync(() => {
      if (store.filename !== ":memory:") mkdirSync(dirname(store.filename), { recursive: true })
      return Sqlite.layer({ filename: store.filename, migrations })
    }))

export interface Options {
  readonly store: Store
  /** The operator token's layer; `Tokens.layer` (reads `OPERATOR_TOKEN`) by default. */
  readonly operatorToken?: Layer.Layer<Tokens.OperatorToken, unknown> | undefined
  /** Ids; time-ordered by default (tests may use counters). */
  readonly ids?: Layer.Layer<Ids.IdGen> | undefined
}

/** The services over a `SqlClient`: each reads its settings from `Config`. */
export const servicesLayer = (options: Pick<Options, "operatorToken" | "ids"> = {}) => {
  const ids = options.ids ?? Ids.IdGen.layer
  return Layer.mergeAll(
    Ledger.layer.pipe(Layer.provide(ids)),
    ids,
    MarketplaceConfig.MarketplaceConfig.layerConfig,
    Limits.Limits.layerConfig,
    Entropy.Entropy.layer,
    options.operatorToken ?? Tokens.layer,
    Identities.layer
  )
}

/** The whole engine on one store. */
export const layer = (options: Options) =>
  servicesLayer(options).pipe(Layer.provideMerge(storeLayer(options.store)))

/** Whether the database answers (readiness). */
export const ping = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT 1 AS ok`
})
