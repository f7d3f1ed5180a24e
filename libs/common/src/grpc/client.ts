import * as grpc from "@grpc/grpc-js";

/** Default deadline of an internal call; every outgoing call has one. */
export const DEFAULT_DEADLINE_MS = 5_000;

export function deadlineIn(ms: number): grpc.Deadline {
  return new Date(Date.now() + ms);
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/**
 * Calls a generated grpc-js client method as a promise, always with a deadline.
 * Rejections are grpc-js ServiceErrors carrying the remote status.
 */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { deadlineMs?: number; metadata?: grpc.Metadata } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, options.metadata ?? new grpc.Metadata(), { deadline: deadlineIn(options.deadlineMs ?? DEFAULT_DEADLINE_MS) }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}
