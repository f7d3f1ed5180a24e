import { expect } from "chai";
import type { EntityManager } from "@mikro-orm/postgresql";
import { driverStatementOf, namedQuery, type PreparedStatement } from "../../src/money/sql.js";

describe("prepared statements handed to the driver", () => {
  it("numbers each named binding once, in order of first use, and leaves casts and literals alone", () => {
    const statement: PreparedStatement = {
      name: "example",
      text: "select :amount + :fee, cast(:id as uuid), x::int, '12:30', :amount from t where a = :fee",
    };
    const driverStatement = driverStatementOf(statement);
    expect(driverStatement).to.deep.equal({
      name: "example",
      text: "select $1 + $2, cast($3 as uuid), x::int, '12:30', $1 from t where a = $2",
      parameters: ["amount", "fee", "id"],
    });
    expect(driverStatementOf(statement)).to.equal(driverStatement);
  });

  it("refuses to run a statement with a binding left out, before taking a connection", async () => {
    const outsideTransaction = {
      getTransactionContext: () => undefined,
      getKnex: () => expect.fail("no connection may be taken"),
    } as unknown as EntityManager;
    const statement: PreparedStatement = { name: "missing_binding", text: "select :a, :b" };
    const error = await namedQuery(outsideTransaction, statement, { a: 1 }).then(
      () => expect.fail("ran without :b"),
      (err: unknown) => err,
    );
    expect(error).to.be.an("error").with.property("message", "statement missing_binding: no value for :b");
  });
});
