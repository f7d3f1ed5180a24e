import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { pino } from "pino";
import { failedPrecondition, toStatus } from "../../src/grpc/errors.js";

const log = pino({ level: "silent" });

/** An error as node-postgres raises it: a SQLSTATE in `code`. */
function sqlError(code: string, message = "database error"): Error {
  return Object.assign(new Error(message), { code });
}

describe("toStatus (what a caller is told for a thrown error)", () => {
  it("passes a deliberate RpcError through", () => {
    expect(toStatus(failedPrecondition("insufficient funds"), log)).to.deep.equal({ code: status.FAILED_PRECONDITION, details: "insufficient funds" });
  });

  it("answers UNAVAILABLE for a database that is shutting down or unreachable", () => {
    expect(toStatus(sqlError("57P01"), log).code).to.equal(status.UNAVAILABLE);
    expect(toStatus(Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" }), log).code).to.equal(status.UNAVAILABLE);
  });

  it("answers ABORTED (send it again) for a deadlock or a serialization failure, also when wrapped", () => {
    expect(toStatus(sqlError("40P01", "deadlock detected"), log).code).to.equal(status.ABORTED);
    expect(toStatus(new Error("transaction failed", { cause: sqlError("40001") }), log).code).to.equal(status.ABORTED);
  });

  it("hides anything else behind INTERNAL with a generic message", () => {
    expect(toStatus(sqlError("23514", 'new row violates check constraint "accounts_held_minor_check"'), log)).to.deep.equal({
      code: status.INTERNAL,
      details: "internal error",
    });
  });
});
