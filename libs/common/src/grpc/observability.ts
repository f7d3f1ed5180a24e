import * as grpc from "@grpc/grpc-js";
import { Counter, Histogram } from "prom-client";

/** RPCs answered, by service, method and status code. */
export const rpcHandled = new Counter({
  name: "grpc_server_handled_total",
  help: "RPCs completed on the server, by gRPC service, method and status code",
  labelNames: ["grpc_service", "grpc_method", "grpc_code"] as const,
});

/** Latency buckets of the RPC histograms, in seconds. A boundary at 20 ms, the CreatePayment p99 objective, so alerts can count calls beyond it exactly. */
const RPC_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Time from the call's arrival to its status, by service, method and status code. */
export const rpcDuration = new Histogram({
  name: "grpc_server_handling_seconds",
  help: "Time from an RPC's arrival to its status (a server stream: its whole life), in seconds",
  labelNames: ["grpc_service", "grpc_method", "grpc_code"] as const,
  buckets: RPC_SECONDS_BUCKETS,
});

/** Calls this process made to other services, by service, method and status code. */
export const rpcClientDuration = new Histogram({
  name: "grpc_client_handling_seconds",
  help: "Time from starting an outgoing RPC to its status (deadline and retries included), in seconds",
  labelNames: ["grpc_service", "grpc_method", "grpc_code"] as const,
  buckets: RPC_SECONDS_BUCKETS,
});

/** "/payments.v1.PaymentService/CreatePayment" -> service and method. */
export function splitMethodPath(path: string): { service: string; method: string } {
  const [, service = "unknown", method = "unknown"] = path.split("/");
  return { service, method };
}

/**
 * Counts and times every call by the status it ends with. It must be the first interceptor
 * of a server (nearest the transport), so that it also sees the statuses other interceptors
 * answer with (a refused service token, an undecodable request). A call the client cancels
 * is counted as CANCELLED.
 */
export const rpcMetricsInterceptor: grpc.ServerInterceptor = (methodDescriptor, call) => {
  const { service, method } = splitMethodPath(methodDescriptor.path);
  const started = process.hrtime.bigint();
  let recorded = false;
  const record = (code: grpc.status) => {
    if (recorded) return;
    recorded = true;
    const labels = { grpc_service: service, grpc_method: method, grpc_code: grpc.status[code] ?? String(code) };
    rpcHandled.inc(labels);
    rpcDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
  };
  return new grpc.ServerInterceptingCall(call, {
    start: (next) => next({ onCancel: () => record(grpc.status.CANCELLED) }),
    sendStatus: (status, next) => {
      record(status.code);
      next(status);
    },
  });
};

/**
 * Times every call of a client by the status it ends with, as seen by the caller: beside the
 * server's own histogram, the difference is the network, the two event loops and the
 * channel. It must be the first interceptor of a client, so that it times the others too.
 */
export const rpcClientMetricsInterceptor: grpc.Interceptor = (options, nextCall) => {
  const { service, method } = splitMethodPath(options.method_definition.path);
  const started = process.hrtime.bigint();
  return new grpc.InterceptingCall(nextCall(options), {
    start: (metadata, _listener, next) =>
      // A partial listener: grpc-js passes everything it does not name through to `listener`.
      next(metadata, {
        onReceiveStatus: (status, nextStatus) => {
          rpcClientDuration.observe(
            { grpc_service: service, grpc_method: method, grpc_code: grpc.status[status.code] ?? String(status.code) },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
          nextStatus(status);
        },
      }),
  });
};
