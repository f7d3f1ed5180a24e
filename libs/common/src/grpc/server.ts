import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { rpcMetricsInterceptor } from "./observability.js";
import { CHANNELZ_OFF } from "../internalTransport.js";

/** Largest request a server accepts unless configured otherwise. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** One gRPC service to serve: its generated definition and our implementation. */
export interface ServiceBinding {
  /** Fully qualified name, used for health status, e.g. "payments.v1.PaymentService". */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  services: ServiceBinding[];
  /**
   * Compiled schema (FileDescriptorSet) describing the services, for server reflection;
   * `descriptorSetPath` of @payments/contracts/protoFiles. Omit to serve no reflection.
   */
  descriptorSetPath?: string;
  credentials?: grpc.ServerCredentials;
  /** Largest request accepted, in bytes (GRPC_MAX_MESSAGE_BYTES); a larger one is RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes?: number;
  /** Run on every call before its handler, e.g. the service-token check of Processing. */
  interceptors?: grpc.ServerInterceptor[];
  log: Logger;
}

/** A started server with its bound port and a graceful stop. */
export interface RunningGrpcServer {
  server: grpc.Server;
  port: number;
  health: HealthImplementation;
  /**
   * Reports SERVING or NOT_SERVING for the whole server and each of its services (the
   * dependency checks call it); ignored once stop() has begun.
   */
  setServing(serving: boolean): void;
  /** Reports NOT_SERVING, lets in-flight calls finish (up to graceMs), then closes. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Builds and binds a gRPC server with the health service and server reflection, so tools
 * like `buf curl` can list and call methods without the proto files.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    "grpc.keepalive_permit_without_calls": 1,
    ...CHANNELZ_OFF,
    // First, so it also counts the statuses the other interceptors answer with.
    interceptors: [rpcMetricsInterceptor, ...(options.interceptors ?? []), refuseUndecodableRequests],
  });
  for (const service of options.services) server.addService(withTolerantDecoding(service.definition), service.implementation);

  const statusMap = Object.fromEntries(options.services.map((s) => [s.name, "SERVING" as const]));
  const health = new HealthImplementation({ "": "SERVING", ...statusMap });
  health.addToServer(server);

  if (options.descriptorSetPath) {
    const services = [...options.services.map((s) => s.name), "grpc.health.v1.Health"];
    new ReflectionService(packageDefinitionOf(options.descriptorSetPath), { services }).addToServer(server);
  }

  const credentials = options.credentials ?? grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  options.log.info({ port, services: options.services.map((s) => s.name) }, "gRPC server listening");

  let stopping = false;
  const setAll = (status: "SERVING" | "NOT_SERVING") => {
    health.setStatus("", status);
    for (const service of options.services) health.setStatus(service.name, status);
  };

  return {
    server,
    port,
    health,
    setServing(serving) {
      if (!stopping) setAll(serving ? "SERVING" : "NOT_SERVING");
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      setAll("NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.log.warn("in-flight calls did not finish in time; closing them");
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** What a request that is not a valid protobuf message decodes to, so it can be refused clearly. */
const UNDECODABLE = Symbol("undecodable request");

/**
 * grpc-js answers a request it cannot decode with INTERNAL, which tells the client "our bug".
 * The decoder returns a marker instead, and {@link refuseUndecodableRequests} answers it with
 * INVALID_ARGUMENT.
 */
function withTolerantDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return method.requestDeserialize(bytes);
          } catch {
            return { [UNDECODABLE]: true };
          }
        },
      },
    ]),
  ) as grpc.ServiceDefinition;
}

const refuseUndecodableRequests: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message, nextMessage) => {
          if (typeof message === "object" && message !== null && UNDECODABLE in message)
            return call.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details: "request is not a valid protobuf message", metadata: new grpc.Metadata() });
          nextMessage(message);
        },
      }),
  });

/**
 * @grpc/reflection reads the `fileDescriptorProtos` of a package definition. Built by
 * proto-loader those are merged per package and lose their imports, so clients cannot
 * resolve a service that uses another package's messages; we hand it the real files
 * from `buf build` instead.
 */
function packageDefinitionOf(descriptorSetPath: string): PackageDefinition {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath));
  const fileDescriptorProtos = set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
  return { schema: { format: "Protocol Buffer 3 FileDescriptorProto", type: {}, fileDescriptorProtos } } as unknown as PackageDefinition;
}
