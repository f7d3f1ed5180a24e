import * as grpc from "@grpc/grpc-js";
import {
  ProcessingServiceClient,
  ProcessingServiceService,
  type ClaimStalePaymentsResponse,
  type FlagForReviewRequest,
  type FlagForReviewResponse,
  type SettleRequest,
  type SettleResponse,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus } from "@payments/contracts/gen/payments/v1/payment";

/** What the fake answers one Settle call with: a gRPC status code to fail with, or success. */
export type SettleAnswer = grpc.status | "OK";

/**
 * A real in-process gRPC server implementing Processing's Settle with the same-key replay
 * rule. It records every call, and fails calls with the scripted statuses first.
 */
export class FakeProcessing {
  readonly calls: SettleRequest[] = [];
  /** Every FlagForReview call. */
  readonly flagged: FlagForReviewRequest[] = [];
  /** Answers for the next calls, in order; when empty every call succeeds. */
  readonly script: SettleAnswer[] = [];
  /** Runs before a call is answered, so a test can look at the world mid-call. */
  beforeAnswer?: (request: SettleRequest, callNumber: number) => Promise<void>;
  private readonly settled = new Map<string, SettleRequest>();
  private server = new grpc.Server();
  port = 0;

  async start(): Promise<void> {
    const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>) => callback({ code: grpc.status.UNIMPLEMENTED, details: "fake" });
    this.server.addService(ProcessingServiceService, {
      hold: unimplemented,
      getPayment: unimplemented,
      listPayments: unimplemented,
      getAccount: unimplemented,
      listPaymentsUnderReview: unimplemented,
      claimStalePayments: (_call: unknown, callback: grpc.sendUnaryData<ClaimStalePaymentsResponse>) => callback(null, { payments: [] }),
      flagForReview: (call: grpc.ServerUnaryCall<FlagForReviewRequest, FlagForReviewResponse>, callback: grpc.sendUnaryData<FlagForReviewResponse>) => {
        this.flagged.push(call.request);
        callback(null, { payment: { userId: "user-1", payment: undefined, reviewReason: call.request.reason, reviewTime: new Date(), traceParent: "" }, flagged: true });
      },
      settle: (call: grpc.ServerUnaryCall<SettleRequest, SettleResponse>, callback: grpc.sendUnaryData<SettleResponse>) => {
        this.calls.push(call.request);
        const callNumber = this.calls.length;
        void (this.beforeAnswer?.(call.request, callNumber) ?? Promise.resolve()).then(() => {
          const answer = this.script.shift() ?? "OK";
          if (answer !== "OK") return callback({ code: answer, details: `fake: ${grpc.status[answer]}` });
          const first = this.settled.get(call.request.paymentId);
          if (!first) this.settled.set(call.request.paymentId, call.request);
          const applied = first ?? call.request;
          callback(null, {
            payment: {
              id: applied.paymentId,
              idempotencyKey: "",
              serviceId: "",
              details: undefined,
              amount: undefined,
              status: applied.outcome === 1 ? PaymentStatus.PAYMENT_STATUS_APPROVED : PaymentStatus.PAYMENT_STATUS_REJECTED,
              rejectReason: applied.rejectReason,
              rejectMessage: applied.rejectMessage,
              createTime: undefined,
              updateTime: undefined,
              underReview: false,
            },
            replayed: first !== undefined,
          });
        });
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  client(): ProcessingServiceClient {
    return new ProcessingServiceClient(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure());
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
