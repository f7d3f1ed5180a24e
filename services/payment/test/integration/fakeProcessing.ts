import * as grpc from "@grpc/grpc-js";
import { v4 as uuidv4 } from "uuid";
import {
  HoldRequest,
  ProcessingServiceService,
  type ListPaymentsRequest,
  type ProcessingServiceServer,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus, RejectReason, type Payment } from "@payments/contracts/gen/payments/v1/payment";

const fail = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });

/**
 * An in-process ProcessingService on a real grpc-js server (port 0) that keeps payments in
 * memory and records what it was asked, so tests can check what reached Processing.
 */
export class FakeProcessing {
  readonly holds: HoldRequest[] = [];
  readonly listRequests: ListPaymentsRequest[] = [];
  /** Error the next Hold answers with, once. */
  nextHoldError?: { code: grpc.status; details: string };
  /** How many of the next GetPayment calls answer UNAVAILABLE. */
  getPaymentOutages = 0;
  getPaymentCalls = 0;
  private readonly payments = new Map<string, { userId: string; request: HoldRequest; payment: Payment }>();
  private readonly byKey = new Map<string, string>();
  private server?: grpc.Server;

  async start(): Promise<number> {
    const implementation: ProcessingServiceServer = {
      hold: (call, callback) => {
        const request = call.request;
        this.holds.push(request);
        if (this.nextHoldError) {
          const { code, details } = this.nextHoldError;
          this.nextHoldError = undefined;
          return callback(fail(code, details));
        }
        const key = `${request.userId}|${request.idempotencyKey}`;
        const existingId = this.byKey.get(key);
        if (existingId) {
          const existing = this.payments.get(existingId)!;
          const same = JSON.stringify(HoldRequest.toJSON(existing.request)) === JSON.stringify(HoldRequest.toJSON(request));
          if (!same) return callback(fail(grpc.status.ALREADY_EXISTS, "idempotency key was used with a different request"));
          return callback(null, { payment: existing.payment, replayed: true });
        }
        const now = new Date();
        const payment: Payment = {
          id: uuidv4(),
          idempotencyKey: request.idempotencyKey,
          serviceId: request.serviceId,
          details: request.details,
          amount: request.amount,
          status: PaymentStatus.PAYMENT_STATUS_CREATED,
          rejectReason: RejectReason.REJECT_REASON_UNSPECIFIED,
          rejectMessage: "",
          createTime: now,
          updateTime: now,
          underReview: false,
        };
        this.payments.set(payment.id, { userId: request.userId, request, payment });
        this.byKey.set(key, payment.id);
        callback(null, { payment, replayed: false });
      },
      settle: (_call, callback) => callback(fail(grpc.status.UNIMPLEMENTED, "not in the fake")),
      claimStalePayments: (_call, callback) => callback(fail(grpc.status.UNIMPLEMENTED, "not in the fake")),
      flagForReview: (_call, callback) => callback(fail(grpc.status.UNIMPLEMENTED, "not in the fake")),
      listPaymentsUnderReview: (_call, callback) => callback(fail(grpc.status.UNIMPLEMENTED, "not in the fake")),
      getPayment: (call, callback) => {
        this.getPaymentCalls++;
        if (this.getPaymentOutages > 0) {
          this.getPaymentOutages--;
          return callback(fail(grpc.status.UNAVAILABLE, "database restarting"));
        }
        const stored = this.payments.get(call.request.paymentId);
        if (!stored || stored.userId !== call.request.userId) return callback(fail(grpc.status.NOT_FOUND, "payment not found"));
        callback(null, { payment: stored.payment });
      },
      listPayments: (call, callback) => {
        this.listRequests.push(call.request);
        const payments = [...this.payments.values()].filter((p) => p.userId === call.request.userId).map((p) => p.payment);
        callback(null, { payments: payments.slice(0, call.request.pageSize), nextPageToken: "" });
      },
      getAccount: (call, callback) =>
        callback(null, {
          balances: [{ currencyCode: "USD", totalMinor: 100_000n, heldMinor: 0n, availableMinor: 100_000n }],
        }),
    };
    this.server = new grpc.Server();
    this.server.addService(ProcessingServiceService, implementation);
    return new Promise((resolve, reject) =>
      this.server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** Moves a payment to `status`, as a settlement would. */
  setStatus(paymentId: string, status: PaymentStatus): void {
    const stored = this.payments.get(paymentId);
    if (!stored) throw new Error(`no payment ${paymentId}`);
    stored.payment = { ...stored.payment, status, updateTime: new Date(stored.payment.updateTime!.getTime() + 1) };
  }

  stop(): void {
    this.server?.forceShutdown();
  }
}
