/**
 * How every marketplace command runs: one database transaction that changes the state, moves the
 * money and writes the events together (ARCHITECTURE §2), retried as a whole a bounded number of
 * times on serialization failures and deadlocks (the ledger's `Transaction.run`).
 */
import { Transaction } from "@clawbounties/ledger"
import { DateTime, Effect } from "effect"

export const transaction = Transaction.run

/** The current time as an ISO string, from `Clock`. */
export const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

/** `iso` plus `seconds`, as an ISO string. */
export const addSeconds = (iso: string, seconds: number): string =>
  DateTime.formatIso(DateTime.add(DateTime.unsafeMake(iso), { seconds }))
