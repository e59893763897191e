/**
 * Group commit: transactions that start while one is open share its COMMIT.
 *
 * On a file with `synchronous=FULL` each COMMIT writes the transaction's pages to the WAL and waits
 * for an fsync. For a marketplace command that took about 0.7 ms at the median and up to 1.6 ms at
 * p90 on this machine: more than the command's twenty statements together. So a transaction is not
 * committed the moment its body finishes. It stays open until every fiber that can run now has had
 * its turn (one `setImmediate`), and the transactions those fibers start meanwhile run inside it,
 * each in a savepoint of its own, in arrival order. It commits then, or as soon as it holds
 * `maxMembers`. A page several members touch is written once, and the fsync is paid once. With no
 * one else about, the wait is one turn of the event loop; a fiber that is the only writer (the last
 * few transactions were all its own) does not wait at all.
 *
 * What each member sees is unchanged: it runs alone on the connection, after everything that
 * arrived before it, and its result is returned only after the COMMIT that makes it durable. A
 * member that fails rolls back to its savepoint and leaves the others' work in place. A write
 * outside a transaction, or a reserved connection, commits the open group before it runs, so it
 * never sees uncommitted work (reads outside a transaction go to the client's reader connection).
 *
 * If the COMMIT fails, nothing of the group was written. A group of one dies with the error, as a
 * single transaction's failed COMMIT always has: the caller cannot tell whether it committed, and a
 * retry with the same idempotency key resolves it. The members of a larger group run again, each in
 * a transaction of its own, so one member's deferred constraint cannot fail another. (They were
 * never told anything, so running them again is the same as a retry after `SQLITE_BUSY`.)
 */
import { SqlError } from "@effect/sql/SqlError"
import { WriteGate } from "@clawbounties/ledger"
import { Effect, Exit, type Scope } from "effect"

/** How a member's transaction ended, once its group did. */
type Outcome =
  /** Its own result stands: committed with the group, or failed and rolled back on its own. */
  | { readonly _tag: "Done" }
  /** The group was rolled back around it: its body runs again, alone. */
  | { readonly _tag: "RunAlone" }
  /** Its own COMMIT failed, or the connection is no longer trustworthy: it dies with this. */
  | { readonly _tag: "Failed"; readonly error: SqlError }

const done: Outcome = { _tag: "Done" }
const runAlone: Outcome = { _tag: "RunAlone" }
const failed = (message: string, cause: unknown): Outcome => ({ _tag: "Failed", error: new SqlError({ cause, message }) })

interface Member {
  joined: boolean
  outcome: Outcome | undefined
  wake: (() => void) | undefined
}

/** Transactions in a row from one fiber after which it counts as the only writer. */
const LONE_WRITER_RUN = 8

/** The member's savepoint; nested transactions inside it use `effect_sql_1` and deeper. */
const SAVEPOINT = "effect_sql_0"

export interface Options {
  /** Runs a transaction-control statement (`BEGIN IMMEDIATE`, `COMMIT`, ...); throws on failure. */
  readonly control: (text: string) => void
  /** Whether the connection is inside a transaction (SQLite ends one by itself after some errors). */
  readonly inTransaction: () => boolean
  /** Members per transaction at most; 1 turns grouping off. */
  readonly maxMembers: number
  /**
   * Called after each successful COMMIT with the number of transactions that shared it, and whether
   * it waited a turn of the event loop for them.
   */
  readonly onCommit?: ((transactions: number, waited: boolean) => void) | undefined
}

export interface GroupCommit {
  /** `body` as an outermost transaction, in arrival order, durable when it returns. */
  readonly transaction: <A, E, R>(body: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** Holds the connection for the scope, with no transaction open on it. */
  readonly exclusive: Effect.Effect<void, never, Scope.Scope>
  /** Runs `effect` holding the connection, with no transaction open on it (no scope needed). */
  readonly exclusively: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Commits the open transaction, if there is one (before the connection closes). A member still
   * running is rolled back to its savepoint first: committing its first half would be a partial
   * write. It then fails on the closed connection, or dies when it leaves (its transaction ended
   * before its COMMIT).
   */
  readonly flush: () => void
}

export const make = (options: Options): GroupCommit => {
  const { control, inTransaction } = options
  const maxMembers = Math.max(1, Math.trunc(options.maxMembers))
  /** The members of the open transaction; undefined when none is open. */
  let members: Array<Member> | undefined
  /** The member whose body is running in its savepoint, half done until it leaves. */
  let running: Member | undefined

  /** Tells each member how it ended, but for one whose outcome was already decided. */
  const settle = (group: ReadonlyArray<Member>, outcome: Outcome) => {
    for (const member of group) {
      if (member.outcome !== undefined) continue
      member.outcome = outcome
      member.wake?.()
    }
  }

  /** The transaction is gone (rolled back): its members run again, alone. */
  const abandon = () => {
    const group = members
    members = undefined
    if (group !== undefined) settle(group, runAlone)
  }

  const rollbackAll = () => {
    if (inTransaction()) control("ROLLBACK")
  }

  /** `waited`: the COMMIT waited a turn of the event loop for other transactions to join. */
  const commit = (waited = false): void => {
    const group = members
    if (group === undefined) return
    members = undefined
    try {
      control("COMMIT")
    } catch (cause) {
      // A failed COMMIT leaves the transaction open: roll it back so the connection stays usable.
      try {
        rollbackAll()
      } catch (rollbackCause) {
        return settle(group, failed("Failed to roll back after a failed COMMIT", rollbackCause))
      }
      return settle(group, group.length === 1 ? failed("Failed to execute COMMIT", cause) : runAlone)
    }
    options.onCommit?.(group.length, waited)
    settle(group, done)
  }

  /**
   * The holder is done and no one is queued: commit once everything runnable now has run
   * (`setImmediate` comes after the pending microtasks and I/O callbacks), so the transactions
   * other fibers are about to open join this one. A holder in the lock then commits on its release.
   * Waiting longer made bigger groups but fewer jobs per second: with 8 HTTP clients, two turns or a
   * 1 ms timer gave 90-107 jobs/s against 115-117 for one turn (callers that wait send no work).
   */
  let commitScheduled = false
  const scheduleCommit = () => {
    if (members === undefined || commitScheduled) return
    if (loneWriter()) return commit()
    commitScheduled = true
    setImmediate(() => {
      commitScheduled = false
      if (!lock.isHeld()) commit(true)
    })
  }

  const lock = WriteGate.makeFifo({ onIdle: scheduleCommit })

  /**
   * Waiting a turn pays only when other fibers write too. A lone writer (one fiber ran each of the
   * last few transactions: a script, a sweep, a sequential client) has no one to share its COMMIT
   * with, so it commits at once and saves the turn (sequential ledger transfers on a file in tmpfs:
   * 16% more per second with no waiting at all, measured). Another fiber's transaction turns
   * waiting back on.
   */
  let lastWriter: number | undefined
  let sameWriterRun = 0
  const noteWriter = (fiberId: number) => {
    if (fiberId === lastWriter) {
      sameWriterRun++
    } else {
      lastWriter = fiberId
      sameWriterRun = 0
    }
  }
  const loneWriter = () => sameWriterRun >= LONE_WRITER_RUN

  /** Opens the transaction if none is, and the member's savepoint in it. */
  const join = (member: Member, alone: boolean): SqlError | undefined => {
    if (members !== undefined && (alone || members.length >= maxMembers)) commit()
    try {
      if (members === undefined) {
        control("BEGIN IMMEDIATE")
        members = []
      }
      control(`SAVEPOINT ${SAVEPOINT}`)
    } catch (cause) {
      if (!inTransaction()) abandon()
      return new SqlError({ cause, message: "Failed to begin a transaction" })
    }
    members.push(member)
    member.joined = true
    running = member
    return undefined
  }

  /** Closes the member's savepoint, keeping or undoing its work; a lone member commits at once. */
  const leave = (member: Member, exit: Exit.Exit<unknown, unknown>, alone: boolean): void => {
    running = undefined
    if (!inTransaction()) {
      // SQLite rolled the whole transaction back under this member (a full disk, for one).
      member.outcome = Exit.isSuccess(exit) ? failed("The transaction ended before its COMMIT", undefined) : done
      return abandon()
    }
    try {
      if (Exit.isFailure(exit)) control(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`)
      control(`RELEASE SAVEPOINT ${SAVEPOINT}`)
    } catch (cause) {
      member.outcome = failed("Failed to close a savepoint", cause)
      try {
        rollbackAll()
      } catch {
        // Nothing more to do here: BEGIN will report a connection stuck in a transaction.
      }
      return abandon()
    }
    if (alone || members!.length >= maxMembers) commit()
  }

  const outcomeOf = (member: Member): Effect.Effect<Outcome> =>
    member.outcome !== undefined
      ? Effect.succeed(member.outcome)
      : Effect.async<Outcome>((resume) => {
        member.wake = () => resume(Effect.succeed(member.outcome!))
      })

  const transaction = <A, E, R>(body: Effect.Effect<A, E, R>, alone = false): Effect.Effect<A, E | SqlError, R> =>
    Effect.withFiberRuntime((fiber) => {
      noteWriter(fiber.id().id)
      const member: Member = { joined: false, outcome: undefined, wake: undefined }
      const run = lock.withPermit(Effect.suspend((): Effect.Effect<A, E | SqlError, R> => {
        const error = join(member, alone)
        if (error !== undefined) return Effect.fail(error)
        return Effect.onExit(body, (exit) => Effect.sync(() => leave(member, exit, alone)))
      }))
      return Effect.flatMap(Effect.exit(run), (exit) =>
        // A member that never joined (BEGIN failed, or interrupted while queued) has nothing to wait for.
        !member.joined ? exit : Effect.flatMap(outcomeOf(member), (outcome): Effect.Effect<A, E | SqlError, R> => {
          switch (outcome._tag) {
            case "Done":
              return exit
            case "RunAlone":
              return transaction(body, true)
            case "Failed":
              return Effect.die(outcome.error)
          }
        }))
    })

  return {
    transaction: (body) => transaction(body),
    exclusive: Effect.zipRight(lock.take, Effect.sync(() => commit())),
    exclusively: (effect) => lock.withPermit(Effect.zipRight(Effect.sync(() => commit()), effect)),
    flush: () => {
      if (running !== undefined && inTransaction()) {
        try {
          control(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`)
          control(`RELEASE SAVEPOINT ${SAVEPOINT}`)
        } catch {
          // The running member's work cannot be undone alone: roll the whole transaction back.
          rollbackAll()
          return abandon()
        }
      }
      commit()
    }
  }
}
