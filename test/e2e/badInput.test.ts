import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { callUnary } from "@payments/common/grpc/client";
import { checkHealth } from "@payments/common/grpc/healthCheck";
import { serviceCallMetadata } from "@payments/common/auth/serviceTokens";
import { expectStatus } from "@payments/testing/grpcStatus";
import { devServiceSigner } from "@payments/testing/serviceTokens";
import { ProcessingServiceClient, SettleOutcome, SettleRequest } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason, type Payment, type PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import type { CreatePaymentRequest, PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { query } from "../../services/processing/src/money/sql.js";
import { RunningSystem } from "../support/system.js";
import { topUp } from "../support/requests.js";

const SQL = "'; drop table payments; --";
const HUGE = "x".repeat(100_000); // over the public 64 KiB message limit
const LONG = "7".repeat(10_000); // under the limit, far over any field's
const CONTROL = "a\u0000b\u0007c\r\nd\u202ee";
const UNICODE = "платёж🙂𝔘";

/** Every status a hostile request may get: a clear refusal, never INTERNAL or UNKNOWN. */
const CLEAR = [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAUTHENTICATED];

const phone = (phoneNumber: string): PaymentDetails => ({ kind: { $case: "mobileTopUp", value: { phoneNumber } } });

describe("hostile input against the three services as processes (nothing changes, nothing falls over)", function () {
  this.timeout(120_000);
  let system: RunningSystem;
  let client: PaymentServiceClient;
  let processing: ProcessingServiceClient;
  let othersPayment: Payment;
  let initial: Record<string, string>;

  /** Row counts and every balance of the money tables, as one comparable object. */
  const snapshot = async () => {
    const [row] = await query<Record<string, string>>(
      system.em(),
      `select (select count(*) from accounts)::text as accounts,
              (select count(*) from payments)::text as payments,
              (select count(*) from ledger_entries)::text as ledger_entries,
              (select coalesce(string_agg(id || ':' || balance_minor || ':' || held_minor, ',' order by id), '') from accounts) as balances,
              (select coalesce(string_agg(id || ':' || status, ',' order by id), '') from payments) as statuses`,
    );
    return row!;
  };

  before(async () => {
    system = await RunningSystem.start();
    client = system.paymentClient();
    processing = new ProcessingServiceClient(`127.0.0.1:${system.ports.processing}`, grpc.credentials.createInsecure());
    await system.fund("bad-owner", "USD", 10_000n);
    await system.fund("bad-user", "USD", 10_000n);
    othersPayment = (await callUnary(client.createPayment.bind(client), topUp(), { metadata: await system.auth("bad-owner") })).payment!;
    // Let the gateway settle it, so the only writes from here on would be the hostile ones.
    for (let i = 0; i < 200; i++) {
      const [p] = await query<{ status: string }>(system.em(), "select status from payments where id = ?", [othersPayment.id]);
      if (p?.status !== "CREATED") break;
      await sleep(50);
    }
    initial = await snapshot();
  });
  after(async () => {
    processing?.close();
    await system?.stop();
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  /** The call must fail with `code` (or any clear status), with a short message that does not echo the input back whole. */
  async function refused(call: Promise<unknown>, code?: grpc.status): Promise<void> {
    let error: (Error & { code?: number; details?: string }) | undefined;
    try {
      await call;
    } catch (err) {
      error = err as Error & { code?: number; details?: string };
    }
    expect(error, "expected the call to be refused").to.be.instanceOf(Error);
    if (code === undefined) expect(CLEAR.map((c) => grpc.status[c])).to.include(grpc.status[error!.code!]);
    else expect(grpc.status[error!.code!], error!.details).to.equal(grpc.status[code]);
    expect(error!.details!.length, "status message length").to.be.below(500);
  }

  const as = async (userId = "bad-user") => ({ metadata: await system.auth(userId) });
  const create = async (request: CreatePaymentRequest) => callUnary(client.createPayment.bind(client), request, await as());
  const getPayment = async (paymentId: string, userId?: string) => callUnary(client.getPayment.bind(client), { paymentId }, await as(userId));
  const listPayments = async (pageSize: number, pageToken: string) => callUnary(client.listPayments.bind(client), { pageSize, pageToken }, await as());
  const watch = async (paymentId: string) => {
    const metadata = await system.auth("bad-user");
    return new Promise<void>((resolve, reject) => {
      const call = client.watchPayment({ paymentId }, metadata, { deadline: Date.now() + 10_000 });
      call.on("data", () => undefined);
      call.on("error", reject);
      call.on("end", resolve);
    });
  };

  it("CreatePayment: empty, huge, negative, unicode, control characters and SQL are refused", async () => {
    const cases: Array<[string, CreatePaymentRequest, grpc.status]> = [
      ["empty request", { idempotencyKey: "", serviceId: "", details: undefined, amount: undefined }, grpc.status.INVALID_ARGUMENT],
      ["SQL key", topUp({ idempotencyKey: SQL }), grpc.status.INVALID_ARGUMENT],
      ["unicode key", topUp({ idempotencyKey: UNICODE }), grpc.status.INVALID_ARGUMENT],
      ["control key", topUp({ idempotencyKey: CONTROL }), grpc.status.INVALID_ARGUMENT],
      ["long key", topUp({ idempotencyKey: "k".repeat(65) }), grpc.status.INVALID_ARGUMENT],
      ["100 KB key", topUp({ idempotencyKey: HUGE }), grpc.status.RESOURCE_EXHAUSTED],
      ["SQL service", topUp({ serviceId: SQL }), grpc.status.INVALID_ARGUMENT],
      ["10 KB service", topUp({ serviceId: LONG }), grpc.status.INVALID_ARGUMENT],
      ["no details", topUp({ details: undefined }), grpc.status.INVALID_ARGUMENT],
      ["wrong details", topUp({ details: { kind: { $case: "utilityBill", value: { accountNumber: "12345678", billingPeriod: "2026-10" } } } }), grpc.status.INVALID_ARGUMENT],
      ["empty phone", topUp({ details: phone("") }), grpc.status.INVALID_ARGUMENT],
      ["SQL phone", topUp({ details: phone(SQL) }), grpc.status.INVALID_ARGUMENT],
      ["SQL after a valid phone", topUp({ details: phone(`+14155550123${SQL}`) }), grpc.status.INVALID_ARGUMENT],
      ["10 KB phone", topUp({ details: phone(`+${LONG}`) }), grpc.status.INVALID_ARGUMENT],
      ["control phone", topUp({ details: phone("+1415\u00005550123") }), grpc.status.INVALID_ARGUMENT],
      ["Arabic-Indic digits", topUp({ details: phone("+١٤١٥٥٥٥٠١٢٣") }), grpc.status.INVALID_ARGUMENT],
      ["RTL override", topUp({ details: phone("+1415555\u202e0123") }), grpc.status.INVALID_ARGUMENT],
      [
        "SQL contract",
        topUp({ serviceId: "home-internet", details: { kind: { $case: "homeInternet", value: { contractNumber: SQL } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        "10 KB contract",
        topUp({ serviceId: "home-internet", details: { kind: { $case: "homeInternet", value: { contractNumber: LONG } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        "SQL account",
        topUp({ serviceId: "utility-bill", details: { kind: { $case: "utilityBill", value: { accountNumber: SQL, billingPeriod: "2026-10" } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        "month 13",
        topUp({ serviceId: "utility-bill", details: { kind: { $case: "utilityBill", value: { accountNumber: "12345678", billingPeriod: "2026-13" } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        "control billing period",
        topUp({ serviceId: "utility-bill", details: { kind: { $case: "utilityBill", value: { accountNumber: "12345678", billingPeriod: "2026-10\u0000" } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        "SQL billing period",
        topUp({ serviceId: "utility-bill", details: { kind: { $case: "utilityBill", value: { accountNumber: "12345678", billingPeriod: SQL } } } }),
        grpc.status.INVALID_ARGUMENT,
      ],
      ["no amount", topUp({ amount: undefined }), grpc.status.INVALID_ARGUMENT],
      ["negative amount", topUp({ amount: { currencyCode: "USD", amountMinor: -1n } }), grpc.status.INVALID_ARGUMENT],
      ["most negative int64", topUp({ amount: { currencyCode: "USD", amountMinor: -(2n ** 63n) } }), grpc.status.INVALID_ARGUMENT],
      ["largest int64", topUp({ amount: { currencyCode: "USD", amountMinor: 2n ** 63n - 1n } }), grpc.status.INVALID_ARGUMENT],
      ["zero", topUp({ amount: { currencyCode: "USD", amountMinor: 0n } }), grpc.status.INVALID_ARGUMENT],
      ["SQL currency", topUp({ amount: { currencyCode: SQL, amountMinor: 1_000n } }), grpc.status.INVALID_ARGUMENT],
      ["emoji currency", topUp({ amount: { currencyCode: "💵", amountMinor: 1_000n } }), grpc.status.INVALID_ARGUMENT],
      ["10 KB currency", topUp({ amount: { currencyCode: LONG, amountMinor: 1_000n } }), grpc.status.INVALID_ARGUMENT],
    ];
    for (const [name, request, code] of cases) {
      try {
        await refused(create(request), code);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
    }
  });

  it("GetPayment and WatchPayment: garbage ids are INVALID_ARGUMENT, another user's payment is NOT_FOUND", async () => {
    for (const id of ["", SQL, UNICODE, CONTROL, LONG, `${othersPayment.id}${SQL}`]) await refused(getPayment(id), grpc.status.INVALID_ARGUMENT);
    await refused(getPayment(HUGE), grpc.status.RESOURCE_EXHAUSTED);
    await refused(getPayment(othersPayment.id), grpc.status.NOT_FOUND);
    await refused(getPayment(othersPayment.id.toUpperCase()), grpc.status.NOT_FOUND);
    await refused(getPayment("00000000-0000-0000-0000-000000000000"), grpc.status.NOT_FOUND);
    for (const id of ["", SQL, LONG]) await refused(watch(id), grpc.status.INVALID_ARGUMENT);
    await refused(watch(othersPayment.id), grpc.status.NOT_FOUND);
    // The owner still sees it: the refusals were about the caller, not the payment.
    expect((await getPayment(othersPayment.id, "bad-owner")).payment!.id).to.equal(othersPayment.id);
  });

  it("ListPayments: negative sizes and garbage page tokens are refused, huge sizes are capped, others' ids leak nothing", async () => {
    await refused(listPayments(-1, ""), grpc.status.INVALID_ARGUMENT);
    await refused(listPayments(-(2 ** 31), ""), grpc.status.INVALID_ARGUMENT);
    for (const token of ["!!!", SQL, Buffer.from(SQL).toString("base64url"), UNICODE, CONTROL, LONG]) await refused(listPayments(10, token), grpc.status.INVALID_ARGUMENT);
    await refused(listPayments(10, HUGE), grpc.status.RESOURCE_EXHAUSTED);
    expect((await listPayments(2 ** 31 - 1, "")).payments).to.deep.equal([]);
    // A token made from another user's payment id pages through the caller's own payments only.
    expect((await listPayments(100, Buffer.from("ffffffff-ffff-7fff-bfff-ffffffffffff").toString("base64url"))).payments).to.deep.equal([]);
  });

  it("every RPC: missing, garbage, forged and oversized tokens are UNAUTHENTICATED (or RESOURCE_EXHAUSTED)", async () => {
    const withToken = (value?: string) => {
      const metadata = new grpc.Metadata();
      if (value !== undefined) metadata.set("authorization", value);
      return { metadata };
    };
    const tokens = [undefined, "", "Bearer", `Bearer ${SQL}`, "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJiYWQtdXNlciJ9.", `Bearer ${"a".repeat(6_000)}`, `Bearer ${"a".repeat(50_000)}`];
    for (const token of tokens) {
      await refused(callUnary(client.createPayment.bind(client), topUp(), withToken(token)), grpc.status.UNAUTHENTICATED);
      await refused(callUnary(client.getPayment.bind(client), { paymentId: othersPayment.id }, withToken(token)), grpc.status.UNAUTHENTICATED);
      await refused(callUnary(client.listPayments.bind(client), { pageSize: 0, pageToken: "" }, withToken(token)), grpc.status.UNAUTHENTICATED);
      await refused(callUnary(client.getAccount.bind(client), {}, withToken(token)), grpc.status.UNAUTHENTICATED);
      await refused(callUnary(client.listServices.bind(client), {}, withToken(token)), grpc.status.UNAUTHENTICATED);
    }
    // Over HTTP/2's header list limit: Node resets the stream before gRPC sees the call, so the
    // client reports INTERNAL "Received RST_STREAM"; what matters is that the server survives.
    const reset = await callUnary(client.getAccount.bind(client), {}, withToken(`Bearer ${"a".repeat(200_000)}`)).catch((err: Error) => err);
    expect((reset as Error).message).to.match(/RST_STREAM|UNAUTHENTICATED|RESOURCE_EXHAUSTED/);
    expect(await checkHealth(`127.0.0.1:${system.ports.payment}`, { service: "", deadlineMs: 2_000 })).to.equal("SERVING");
  });

  it("bytes that are not a protobuf message are INVALID_ARGUMENT, on the public and the internal port", async () => {
    const raw = (port: number, path: string, metadata = new grpc.Metadata()) => {
      const rawClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      return new Promise<void>((resolve, reject) =>
        rawClient.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
          metadata,
          { deadline: Date.now() + 5_000 },
          (err) => {
            rawClient.close();
            return err ? reject(err) : resolve();
          },
        ),
      );
    };
    await refused(raw(system.ports.payment, "/payments.v1.PaymentService/CreatePayment", (await as()).metadata), grpc.status.INVALID_ARGUMENT);
    const gateway = await serviceCallMetadata(await devServiceSigner(system.keysDir, "gateway"));
    await refused(raw(system.ports.processing, "/payments.processing.v1.ProcessingService/Settle", gateway), grpc.status.INVALID_ARGUMENT);
  });

  it("Processing: no token and user tokens are UNAUTHENTICATED, payment may not settle, the gateway may", async () => {
    const settleRequest = (overrides: Partial<SettleRequest> = {}) =>
      SettleRequest.fromPartial({
        paymentId: othersPayment.id,
        idempotencyKey: `bad-input:${Math.random()}`,
        outcome: SettleOutcome.SETTLE_OUTCOME_APPROVED,
        ...overrides,
      });
    const settle = (request: SettleRequest, metadata: grpc.Metadata) => callUnary(processing.settle.bind(processing), request, { metadata });
    await expectStatus(settle(settleRequest(), new grpc.Metadata()), grpc.status.UNAUTHENTICATED);
    await expectStatus(settle(settleRequest(), (await as("bad-owner")).metadata), grpc.status.UNAUTHENTICATED);
    const payment = await serviceCallMetadata(await devServiceSigner(system.keysDir, "payment"));
    await expectStatus(settle(settleRequest(), payment), grpc.status.PERMISSION_DENIED);
    await expectStatus(settle(settleRequest({ outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED, rejectReason: RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER }), payment), grpc.status.PERMISSION_DENIED);

    const gateway = await serviceCallMetadata(await devServiceSigner(system.keysDir, "gateway"));
    // Allowed: the payment is already APPROVED, so the same outcome is answered as done and nothing moves.
    expect((await settle(settleRequest(), gateway)).payment!.id).to.equal(othersPayment.id);
    // Allowed but hostile: unknown enum numbers and garbage are still refused by validation.
    await refused(settle(settleRequest({ outcome: 99 as SettleOutcome }), gateway), grpc.status.INVALID_ARGUMENT);
    await refused(settle(settleRequest({ outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED, rejectReason: 99 as RejectReason }), gateway), grpc.status.INVALID_ARGUMENT);
    await refused(settle(settleRequest({ outcome: -1 as SettleOutcome }), gateway), grpc.status.INVALID_ARGUMENT);
    await refused(settle(settleRequest({ paymentId: SQL }), gateway), grpc.status.INVALID_ARGUMENT);
    await refused(settle(settleRequest({ idempotencyKey: LONG }), gateway), grpc.status.INVALID_ARGUMENT);
    await refused(settle(settleRequest({ idempotencyKey: "x".repeat(2_000_000) }), gateway), grpc.status.RESOURCE_EXHAUSTED);
    await refused(settle(settleRequest({ paymentId: "00000000-0000-0000-0000-000000000000" }), gateway), grpc.status.NOT_FOUND);
  });

  it("leaves accounts, payments and ledger entries exactly as they were, and every server SERVING", async () => {
    expect(await snapshot()).to.deep.equal(initial);
    for (const port of Object.values(system.ports)) expect(await checkHealth(`127.0.0.1:${port}`, { service: "", deadlineMs: 2_000 })).to.equal("SERVING");
  });
});
