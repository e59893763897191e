/**
 * The one place where marketplace records change state. Each move checks the domain's transition
 * table first, then writes with a guarded UPDATE (`WHERE status = <from>`): if another transaction
 * moved the record in between, the row count is zero and the command fails with `INVALID_STATUS`
 * instead of overwriting the other's decision.
 */
import { SqlClient } from "@effect/sql"
import { BountyMachine, ErrorCatalogue, EscrowMachine, StateMachine, SubmissionMachine } from "@clawbounties/domain"
import { Effect } from "effect"
import type { BountyRow, EscrowRow, SubmissionRow } from "./BountyStore.js"
import { nowIso } from "./Command.js"

type Changes = Record<string, string | number | bigint | boolean | null>

const guardedUpdate = (table: string, idColumn: string, id: string, from: string, to: string, changes: Changes) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const updatedAt = yield* nowIso
    const rows = yield* sql`UPDATE ${sql(table)} SET ${sql.update({ ...changes, status: to, updated_at: updatedAt })}
      WHERE ${sql(idColumn)} = ${id} AND status = ${from} RETURNING ${sql(idColumn)}`
    return rows.length === 1
  })

const move = <S extends string, E extends string>(
  machine: StateMachine.Machine<S, E>,
  table: string,
  idColumn: string,
  id: string,
  from: S,
  event: E,
  changes: Changes
) =>
  Effect.gen(function* () {
    const to = yield* StateMachine.transition(machine, from, event)
    const moved = yield* guardedUpdate(table, idColumn, id, from, to, changes)
    if (!moved) return yield* new ErrorCatalogue.InvalidTransition({ machine: machine.name, from, event })
    return to
  })

export const bounty = (row: BountyRow, event: BountyMachine.Event, changes: Changes = {}) =>
  move(BountyMachine.machine, "bounties", "bounty_id", row.bounty_id, row.status, event, changes)

export const escrow = (row: EscrowRow, event: EscrowMachine.Event, changes: Changes = {}) =>
  move(EscrowMachine.machine, "escrows", "escrow_id", row.escrow_id, row.status, event, changes)

/** A stored submission's new status: no transition leads back to the pseudo-state `none`. */
export const submission = (row: SubmissionRow, event: SubmissionMachine.Event, changes: Changes = {}) =>
  Effect.map(
    move(SubmissionMachine.machine, "submissions", "submission_id", row.submission_id, row.status, event, changes),
    (to) => to as SubmissionMachine.Status
  )
