import * as grpc from "@grpc/grpc-js";
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
 * The calls this service makes to Processing, as promises. Each rejects with the remote
 * gRPC status (a grpc-js ServiceError), which toStatus passes through or maps.
 */
export interface ProcessingApi {
  hold(request: HoldRequest): Promise<HoldResponse>;
  getPayment(request: GetPaymentRequest): Promise<GetPaymentResponse>;
  listPayments(request: ListPaymentsRequest): Promise<ListPaymentsResponse>;
  getAccount(request: GetAccountRequest): Promise<GetAccountResponse>;
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
  const options = { deadlineMs };
  return {
    hold: (request) => callUnary(client.hold.bind(client), request, options),
    getPayment: (request) => callUnary(client.getPayment.bind(client), request, options),
    listPayments: (request) => callUnary(client.listPayments.bind(client), request, options),
    getAccount: (request) => callUnary(client.getAccount.bind(client), request, options),
    close: () => client.close(),
  };
}
