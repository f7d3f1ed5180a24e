import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { callUnary } from "@payments/common/grpc/client";
import { expectStatus } from "@payments/testing/grpcStatus";
import { holdRequest, ProcessingHarness } from "./processingHarness.js";

describe("Processing reads (real PostgreSQL)", () => {
  let h: ProcessingHarness;
  before(async () => {
    h = await ProcessingHarness.start();
  });
  after(async () => h?.stop());

  const getPayment = (userId: string, paymentId: string) => callUnary(h.client.getPayment.bind(h.client), { userId, paymentId });
  const listPayments = (userId: string, pageSize: number, pageToken = "") =>
    callUnary(h.client.listPayments.bind(h.client), { userId, pageSize, pageToken });

  it("shows a payment to its owner only; to anyone else it does not exist", async () => {
    await h.fund("owner", "USD", 5_000n);
    const { payment } = await h.hold(holdRequest({ userId: "owner" }));
    expect((await getPayment("owner", payment!.id)).payment!.id).to.equal(payment!.id);
    await expectStatus(getPayment("intruder", payment!.id), status.NOT_FOUND);
    await expectStatus(getPayment("owner", "garbage"), status.INVALID_ARGUMENT, "payment_id");
  });

  it("pages through a user's payments newest first without repeats", async () => {
    await h.fund("pager", "USD", 50_000n);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await h.hold(holdRequest({ userId: "pager" }))).payment!.id);
    const seen: string[] = [];
    let token = "";
    do {
      const page = await listPayments("pager", 3, token);
      expect(page.payments.length).to.be.at.most(3);
      seen.push(...page.payments.map((p) => p.id));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen).to.deep.equal([...ids].reverse());
    await expectStatus(listPayments("pager", 3, "not-a-token"), status.INVALID_ARGUMENT, "page_token");
    await expectStatus(listPayments("pager", -1), status.INVALID_ARGUMENT, "page_size");
  });

  it("reports total, held and available per currency", async () => {
    await h.fund("balances", "USD", 5_000n);
    await h.hold(holdRequest({ userId: "balances", amount: { currencyCode: "USD", amountMinor: 1_200n } }));
    const { balances } = await callUnary(h.client.getAccount.bind(h.client), { userId: "balances" });
    expect(balances).to.deep.equal([{ currencyCode: "USD", totalMinor: 5_000n, heldMinor: 1_200n, availableMinor: 3_800n }]);
  });
});
