import { status } from "@grpc/grpc-js";
import { expect } from "chai";

/** Awaits a call that must fail, and returns the gRPC status it failed with. */
export async function expectStatus(call: Promise<unknown>, code: status, messagePart?: string): Promise<{ code: number; details: string }> {
  let error: unknown;
  try {
    await call;
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${status[code]}, but the call succeeded`).to.be.instanceOf(Error);
  const { code: actual, details } = error as { code: number; details: string };
  expect(status[actual], `status (details: ${details})`).to.equal(status[code]);
  if (messagePart) expect(details).to.contain(messagePart);
  return { code: actual, details };
}
