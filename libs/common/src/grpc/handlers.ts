import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { toStatus } from "./errors.js";

/**
 * Adapts an async function to a grpc-js unary handler: the callback is called exactly
 * once, with the result or with the status that {@link toStatus} picks for the error.
 */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => {
        const status = toStatus(err, log.child({ method }));
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
  handler: (request: Req, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    handler(call.request, call).then(
      () => call.end(),
      (err: unknown) => {
        const status = toStatus(err, log.child({ method }));
        // grpc-js sends the status of an emitted "error" and ends the call; destroy() would
        // end the stream without sending any status, leaving the client waiting.
        call.emit("error", Object.assign(new Error(status.details), { code: status.code, details: status.details }));
      },
    );
  };
}
