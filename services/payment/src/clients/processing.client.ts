import * as grpc from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { callUnary } from "@payments/common/grpc/client";
import { internalChannelOptions } from "@payments/common/internalTransport";
import { rpcClientMetricsInterceptor } from "@payments/common/grpc/observability";
import { serviceTokenInterceptor, type ServiceTokenSigner } from "@payments/common/auth/serviceTokens";
import {
  ProcessingServiceClient,
  type GetAccountRequest,
  type GetAccountResponse,
  type GetPaymentRequest,
  type GetPaymentResponse,
  type HoldRequest,
  type HoldResponse,
  type ListPaymentsRequest,
  type ListPaymentsResponse,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";

/**
 * The calls this service makes to Processing, as promises, each carrying the trace context
 * `trace`. Each rejects with the remote gRPC status (a grpc-js ServiceError), which toStatus
 * passes through or maps.
 */
export interface ProcessingApi {
  hold(request: HoldRequest, trace: Context): Promise<HoldResponse>;
  getPayment(request: GetPaymentRequest, trace: Context): Promise<GetPaymentResponse>;
  listPayments(request: ListPaymentsRequest, trace: Context): Promise<ListPaymentsResponse>;
  getAccount(request: GetAccountRequest, trace: Context): Promise<GetAccountResponse>;
  /** Closes the channel. */
  close(): void;
}

/**
 * Connects to Processing at `address` (host:port, plaintext inside the cluster). Every call
 * carries a deadline of `deadlineMs`, so a stuck Processing never holds a client forever,
 * and this service's token from `signer` (Processing refuses calls without one).
 */
export function createProcessingClient(address: string, deadlineMs: number, signer?: ServiceTokenSigner): ProcessingApi {
  // A dns:/// address (dns:///processing:50052) spreads the calls over every replica (round_robin).
  const client = new ProcessingServiceClient(
    address,
    grpc.credentials.createInsecure(),
    internalChannelOptions(address, {
      // Reconnect quickly after a Processing restart instead of backing off for long.
      "grpc.max_reconnect_backoff_ms": 2000,
      interceptors: [rpcClientMetricsInterceptor, ...(signer ? [serviceTokenInterceptor(signer)] : [])],
    }),
  );
  return {
    hold: (request, trace) => callUnary(client.hold.bind(client), request, { deadlineMs, trace }),
    getPayment: (request, trace) => callUnary(client.getPayment.bind(client), request, { deadlineMs, trace }),
    listPayments: (request, trace) => callUnary(client.listPayments.bind(client), request, { deadlineMs, trace }),
    getAccount: (request, trace) => callUnary(client.getAccount.bind(client), request, { deadlineMs, trace }),
    close: () => client.close(),
  };
}
