/**
 * Wake-ups for polls waiting on the event feed (`EventFeed.pull` with `waitSeconds`).
 *
 * A waiting poll registers its principal here, reads, and sleeps until woken. `Outbox.append` calls
 * {@link EventSignalsService.announce} with the recipients of the events it wrote, and the wake
 * happens once that transaction COMMITs (`Transaction.afterCommit`): after the store's real COMMIT,
 * the SQLite group COMMIT a command may share included, so a woken poll finds the event; and never
 * for a transaction that rolled back. Waking after COMMIT from the process that committed is the
 * simplest mechanism that is correct on both stores: it needs no help from the database.
 *
 * A poll registers before its first read, and a wake that comes while it is reading is kept for its
 * next wait, so an event committed between its read and its sleep is not missed. A registration
 * lives as long as its poll: it is removed when the poll answers or is interrupted.
 *
 * A wake can still be lost: the events were written in a transaction not opened with
 * `Transaction.run` (nothing sees its COMMIT), the committing fiber was interrupted just after
 * COMMIT, or (across servers sharing one PostgreSQL) the notification never arrived. So a waiting
 * poll also reads again every {@link FALLBACK_POLL}: a lost wake delays an event, never loses it.
 *
 * This layer wakes polls in this process only. Server replicas sharing one PostgreSQL relay wakes
 * to one another with the PostgreSQL adapter's `EventRelay` (LISTEN/NOTIFY), which builds on {@link make}.
 */
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import { Transaction } from "@clawbounties/ledger"

/**
 * How often a waiting poll reads again without a wake-up: the worst-case delay of an event whose
 * wake was lost. 10,000 waiting polls cost 2,000 reads per second, and one read per wake.
 */
export const FALLBACK_POLL = Duration.seconds(5)

export interface EventSignalsService {
  /**
   * Inside the transaction that appended events for `dids`: wakes their waiting polls once it
   * commits (here, and through `publish` elsewhere).
   */
  readonly announce: (dids: ReadonlyArray<string>) => Effect.Effect<void>
  /** Wakes this process's polls waiting for `dids`, whose events committed elsewhere. */
  readonly wake: (dids: Iterable<string>) => void
  /**
   * Registers a poll waiting for `did`'s events until the scope closes. The effect returned waits
   * for the next wake since the last one it returned for (at once if one came meanwhile).
   */
  readonly listen: (did: string) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
  /** Registered polls (for tests and metrics). */
  readonly registrations: () => number
}

export class EventSignals extends Context.Tag("@clawbounties/marketplace/EventSignals")<EventSignals, EventSignalsService>() {
  /** Wakes polls in this process only. */
  static readonly layer: Layer.Layer<EventSignals> = Layer.sync(EventSignals, () => make())
}

interface Waiter {
  /** A wake came while the poll was not sleeping: its next wait returns at once. */
  woken: boolean
  /** Ends the poll's current sleep, while it sleeps. */
  resume: (() => void) | undefined
}

/**
 * Signals for this process. `publish` is told the recipients of each committed transaction's events
 * too (after this process's own polls were woken), to pass on to other processes.
 */
export const make = (options: { readonly publish?: ((dids: ReadonlyArray<string>) => void) | undefined } = {}): EventSignalsService => {
  const waiters = new Map<string, Set<Waiter>>()
  let registered = 0

  const wake = (dids: Iterable<string>) => {
    for (const did of dids) {
      for (const waiter of waiters.get(did) ?? []) {
        waiter.woken = true
        waiter.resume?.()
      }
    }
  }

  const register = (did: string) => Effect.sync(() => {
    const waiter: Waiter = { woken: false, resume: undefined }
    const same = waiters.get(did)
    if (same === undefined) waiters.set(did, new Set([waiter]))
    else same.add(waiter)
    registered++
    return waiter
  })

  const unregister = (did: string, waiter: Waiter) => Effect.sync(() => {
    const same = waiters.get(did)
    if (same?.delete(waiter) !== true) return
    registered--
    if (same.size === 0) waiters.delete(did)
  })

  const next = (waiter: Waiter) => Effect.async<void>((resume) => {
    if (waiter.woken) {
      waiter.woken = false
      return resume(Effect.void)
    }
    waiter.resume = () => {
      waiter.resume = undefined
      waiter.woken = false
      resume(Effect.void)
    }
    return Effect.sync(() => {
      waiter.resume = undefined
    })
  })

  return {
    announce: (dids) =>
      Transaction.afterCommit(Effect.sync(() => {
        wake(dids)
        options.publish?.(dids)
      })),
    wake,
    listen: (did) => Effect.map(Effect.acquireRelease(register(did), (waiter) => unregister(did, waiter)), next),
    registrations: () => registered
  }
}
