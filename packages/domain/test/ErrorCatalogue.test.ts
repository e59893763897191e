import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ErrorCatalogue } from "@clawbounties/domain"

const statuses = new Set([400, 401, 402, 403, 404, 405, 408, 409, 410, 413, 415, 422, 423, 429, 431, 500, 502, 503])

describe("ErrorCatalogue", () => {
  it("gives every error one unique, stable-looking code and a known HTTP status", () => {
    const codes = ErrorCatalogue.table.map((row) => row.code)
    assert.strictEqual(new Set(codes).size, codes.length, `duplicate codes: ${codes.join(", ")}`)
    for (const row of ErrorCatalogue.table) {
      assert.match(row.code, /^[A-Z][A-Z0-9_]*$/, row.tag)
      assert.isTrue(statuses.has(row.status), `${row.tag} has status ${row.status}`)
      assert.isAbove(row.summary.length, 0, row.tag)
    }
    const tags = ErrorCatalogue.table.map((row) => row.tag)
    assert.strictEqual(new Set(tags).size, tags.length)
  })

  it("keeps the reference's codes where they exist", () => {
    const byTag = ErrorCatalogue.entries
    assert.strictEqual(byTag.InvalidRequest.code, "INVALID_REQUEST")
    assert.strictEqual(byTag.InsufficientFunds.code, "INSUFFICIENT_FUNDS")
    assert.strictEqual(byTag.IdempotencyConflict.status, 409)
    assert.deepStrictEqual(
      { code: byTag.InvalidTransition.code, status: byTag.InvalidTransition.status },
      { code: "INVALID_STATUS", status: 409 }
    )
    assert.deepStrictEqual(
      { code: byTag.PolicyNotFound.code, status: byTag.PolicyNotFound.status },
      { code: "POLICY_NOT_FOUND", status: 404 }
    )
    assert.deepStrictEqual(
      { code: byTag.RuleNotFound.code, status: byTag.RuleNotFound.status },
      { code: "RULE_NOT_FOUND", status: 400 }
    )
  })

  it("turns an error into its wire body, with bigints as digit strings", () => {
    const wire = ErrorCatalogue.toWire(
      new ErrorCatalogue.InsufficientFunds({ account: "did:key:zBuyer", bucket: "A", available: 100n, requested: 5250n })
    )
    assert.deepStrictEqual(wire, {
      status: 402,
      body: {
        error: "INSUFFICIENT_FUNDS",
        message: "The source bucket holds less than the amount.",
        details: { account: "did:key:zBuyer", bucket: "A", available: "100", requested: "5250" }
      }
    })
    // The body is plain JSON: it survives JSON.stringify (a bigint would throw).
    assert.doesNotThrow(() => JSON.stringify(wire.body))
  })

  it("uses an error's own message when it has one", () => {
    assert.deepStrictEqual(
      ErrorCatalogue.toWire(new ErrorCatalogue.InvalidRequest({ message: "title must not be empty" })),
      { status: 400, body: { error: "INVALID_REQUEST", message: "title must not be empty", details: {} } }
    )
    assert.deepStrictEqual(
      ErrorCatalogue.toWire(new ErrorCatalogue.InvalidTransition({ machine: "bounty", from: "approved", event: "cancel" })),
      {
        status: 409,
        body: {
          error: "INVALID_STATUS",
          message: "a bounty in state 'approved' does not allow 'cancel'",
          details: { machine: "bounty", from: "approved", event: "cancel" }
        }
      }
    )
    assert.deepStrictEqual(ErrorCatalogue.toWire(new ErrorCatalogue.PolicyNotFound({ policy_id: "nope" })).body, {
      error: "POLICY_NOT_FOUND",
      message: "no fee policy 'nope'",
      details: { policy_id: "nope" }
    })
  })

  it.effect("errors are yieldable failures with their tag", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(new ErrorCatalogue.NotFound({ entity: "bounty", id: "bty_000001" }))
      assert.isTrue(Exit.isFailure(exit))
      const wire = Exit.match(exit, {
        onFailure: (cause) => (cause._tag === "Fail" ? ErrorCatalogue.toWire(cause.error) : undefined),
        onSuccess: () => undefined
      })
      assert.deepStrictEqual(wire?.body.error, "NOT_FOUND")
      assert.deepStrictEqual(wire?.body.details, { entity: "bounty", id: "bty_000001" })
    }))
})
