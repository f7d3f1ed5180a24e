import * as grpc from "@grpc/grpc-js";
import { service as healthService, type ServingStatus } from "grpc-health-check";

export type { ServingStatus };

interface HealthCheckResponse {
  status: ServingStatus | "SERVICE_UNKNOWN";
}

type HealthClient = grpc.Client & {
  check(
    request: { service: string },
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, response?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

// grpc-health-check ships the proto-loader definition of grpc.health.v1.Health; grpc-js
// builds a client from it at run time, so the cast only names the method we call.
const HealthClientConstructor = grpc.makeGenericClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  "Health",
) as unknown as new (address: string, credentials: grpc.ChannelCredentials) => HealthClient;

/**
 * Asks the gRPC health service at `address` (host:port) for the status of `service`
 * ("" is the whole server). Resolves with the reported status; rejects with the grpc-js
 * ServiceError when the call fails (UNAVAILABLE when nothing listens, NOT_FOUND for an
 * unknown service name).
 */
export async function checkHealth(
  address: string,
  options: { service?: string; deadlineMs?: number; credentials?: grpc.ChannelCredentials } = {},
): Promise<ServingStatus | "SERVICE_UNKNOWN"> {
  const client = new HealthClientConstructor(address, options.credentials ?? grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      client.check(
        { service: options.service ?? "" },
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + (options.deadlineMs ?? 2_000)) },
        (err, response) => (err ? reject(err) : resolve(response?.status ?? "UNKNOWN")),
      );
    });
  } finally {
    client.close();
  }
}
