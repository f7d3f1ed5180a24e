import * as grpc from "@grpc/grpc-js";
import { SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { extractTraceContext, SpanKind, startSpan } from "../tracing.js";
import { TraceScope } from "../traceScope.js";
import { toStatus } from "./errors.js";
import { splitMethodPath } from "./observability.js";

/**
 * Adapts an async function to a grpc-js unary handler: the callback is called exactly
 * once, with the result or with the status that {@link toStatus} picks for the error. The
 * handler is given the call's {@link TraceScope}: its server span, and a logger that tags
 * lines with the trace.
 */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>, scope: TraceScope) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const { span, scope } = startServerSpan(call, log);
    handler(call.request, call, scope).then(
      (response) => {
        endServerSpan(span, grpc.status.OK);
        callback(null, response);
      },
      (err: unknown) => {
        const status = toStatus(err, scope.log.child({ method }));
        endServerSpan(span, status.code, status.details);
        callback({ code: status.code, details: status.details });
      },
    );
  };
}

/**
 * Adapts an async function to a server-streaming handler: the stream ends normally when the
 * function returns, or with the mapped status when it throws.
 */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerWritableStream<Req, Res>, scope: TraceScope) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { span, scope } = startServerSpan(call, log);
    handler(call.request, call, scope).then(
      () => {
        endServerSpan(span, grpc.status.OK);
        call.end();
      },
      (err: unknown) => {
        const status = toStatus(err, scope.log.child({ method }));
        endServerSpan(span, status.code, status.details);
        // grpc-js sends the status of an emitted "error" and ends the call; destroy() would
        // end the stream without sending any status, leaving the client waiting.
        call.emit("error", Object.assign(new Error(status.details), { code: status.code, details: status.details }));
      },
    );
  };
}

/**
 * The server span of a call, child of the caller's span when its metadata carries a W3C
 * `traceparent`, and the scope the handler works in.
 */
function startServerSpan(call: { metadata: grpc.Metadata; getPath(): string }, log: Logger): { span: Span; scope: TraceScope } {
  const path = call.getPath();
  const { service, method } = splitMethodPath(path);
  const parent = extractTraceContext(call.metadata, (metadata, key) => {
    const [value] = metadata.get(key);
    return typeof value === "string" ? value : undefined;
  });
  const span = startSpan(
    path.replace(/^\//, ""),
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method } },
    parent,
  );
  return { span, scope: new TraceScope(trace.setSpan(parent, span), log) };
}

/** Statuses that are the server's failure rather than the caller's (OpenTelemetry's gRPC conventions). */
const SERVER_ERROR_CODES = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

function endServerSpan(span: Span, code: grpc.status, details?: string): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (SERVER_ERROR_CODES.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  span.end();
}
