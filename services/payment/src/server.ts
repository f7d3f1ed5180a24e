import type * as grpc from "@grpc/grpc-js";
import { serverStream, unary } from "@payments/common/grpc/handlers";
import { startGrpcServer, type RunningGrpcServer } from "@payments/common/grpc/server";
import { descriptorSetPath } from "@payments/contracts/protoFiles";
import { PaymentServiceService, type PaymentServiceServer } from "@payments/contracts/gen/payments/v1/payment_service";
import { authenticate } from "./auth/tokenVerifier.js";
import { createPayment } from "./handlers/createPayment.handler.js";
import { getAccount, getPayment, listPayments, listServices } from "./handlers/queries.handler.js";
import { watchPayment } from "./handlers/watchPayment.handler.js";
import type { PaymentServiceDeps } from "./handlers/deps.js";
import { PUBLIC_MAX_MESSAGE_BYTES } from "./config.js";

export type { PaymentServiceDeps } from "./handlers/deps.js";

/** Fully qualified name of the public service, as health checks and reflection know it. */
export const PAYMENT_SERVICE_NAME = "payments.v1.PaymentService";

/**
 * The PaymentService implementation: every method authenticates the caller first, then
 * runs its handler. `shutdown` ends open watches when the server stops.
 */
export function createPaymentServiceImplementation(deps: PaymentServiceDeps, shutdown: AbortSignal): PaymentServiceServer {
  const { log } = deps;
  const auth = (call: { metadata: grpc.Metadata }) => authenticate(call.metadata, deps.verifier);
  return {
    createPayment: unary(log, "CreatePayment", async (request, call, scope) => createPayment(deps, await auth(call), request, scope)),
    getPayment: unary(log, "GetPayment", async (request, call, scope) => getPayment(deps, await auth(call), request, scope)),
    watchPayment: serverStream(log, "WatchPayment", async (request, call, scope) =>
      watchPayment(deps, await auth(call), request, call, shutdown, scope),
    ),
    listPayments: unary(log, "ListPayments", async (request, call, scope) => listPayments(deps, await auth(call), request, scope)),
    getAccount: unary(log, "GetAccount", async (_request, call, scope) => getAccount(deps, await auth(call), scope)),
    listServices: unary(log, "ListServices", async (_request, call) => {
      await auth(call);
      return listServices();
    }),
  };
}

/** A listening payment server. */
export interface PaymentServer {
  port: number;
  grpc: RunningGrpcServer;
  /** Health NOT_SERVING, open watches ended, in-flight calls finished (up to graceMs), then closed. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts PaymentService with health and reflection on `host:port` (0 picks a free port).
 * The dependencies are owned by the caller, who closes them after {@link PaymentServer.stop}.
 */
export async function startPaymentServer(
  deps: PaymentServiceDeps,
  listen: { host: string; port: number; maxMessageBytes?: number; credentials?: grpc.ServerCredentials },
): Promise<PaymentServer> {
  const shutdown = new AbortController();
  const running = await startGrpcServer({
    host: listen.host,
    port: listen.port,
    services: [
      {
        name: PAYMENT_SERVICE_NAME,
        definition: PaymentServiceService,
        implementation: createPaymentServiceImplementation(deps, shutdown.signal),
      },
    ],
    descriptorSetPath,
    maxReceiveMessageBytes: listen.maxMessageBytes ?? PUBLIC_MAX_MESSAGE_BYTES,
    credentials: listen.credentials,
    log: deps.log,
  });
  return {
    port: running.port,
    grpc: running,
    async stop(graceMs) {
      // Watches would otherwise hold tryShutdown open until the grace period runs out.
      shutdown.abort();
      await running.stop(graceMs);
    },
  };
}
