import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ServiceTokenError, type ServiceTokenVerifier } from "../auth/serviceTokens.js";

/**
 * Who may call which method of one gRPC service: calling service name -> method names
 * (e.g. `{ gateway: ["Settle"] }`). A method nobody lists is callable by nobody.
 */
export interface ServiceAccessPolicy {
  /** Fully qualified service the policy guards, e.g. "payments.processing.v1.ProcessingService". */
  service: string;
  allow: Readonly<Record<string, readonly string[]>>;
}

/** The calling services a policy lets call `method`, in the order listed. */
export function callersOf(policy: ServiceAccessPolicy, method: string): string[] {
  return Object.entries(policy.allow)
    .filter(([, methods]) => methods.includes(method))
    .map(([caller]) => caller);
}

/**
 * A server interceptor that guards every method of `policy.service`: the call must carry a
 * valid service token (else UNAUTHENTICATED) of a service allowed to call that method (else
 * PERMISSION_DENIED). Other services on the same server (health, reflection) stay open.
 * The check runs on the metadata, before the request message reaches any handler.
 */
/** Metadata the interceptor sets on a verified call: the calling service's name. */
const VERIFIED_CALLER_HEADER = "x-verified-service";

/** The service whose token {@link serviceAuthInterceptor} verified for this call. */
export function verifiedCaller(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(VERIFIED_CALLER_HEADER)[0];
  return typeof value === "string" ? value : undefined;
}

export function serviceAuthInterceptor(verifier: ServiceTokenVerifier, policy: ServiceAccessPolicy, log: Logger): grpc.ServerInterceptor {
  const prefix = `/${policy.service}/`;
  const allowed = new Map(Object.entries(policy.allow).map(([caller, methods]) => [caller, new Set(methods)]));
  return (methodDescriptor, call) => {
    if (!methodDescriptor.path.startsWith(prefix)) return new grpc.ServerInterceptingCall(call);
    const method = methodDescriptor.path.slice(prefix.length);
    const refuse = (code: grpc.status, details: string) => call.sendStatus({ code, details, metadata: new grpc.Metadata() });
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const token = bearerToken(metadata);
        if (typeof token !== "string") return refuse(grpc.status.UNAUTHENTICATED, token.problem);
        verifier.verify(token).then(
          ({ service }) => {
            if (!allowed.get(service)?.has(method)) {
              log.warn({ caller: service, method }, "service called a method it may not call");
              return refuse(grpc.status.PERMISSION_DENIED, `service "${service}" may not call ${method}`);
            }
            // Handlers learn who called from here; a value the client sent itself is replaced.
            metadata.remove(VERIFIED_CALLER_HEADER);
            metadata.set(VERIFIED_CALLER_HEADER, service);
            next(metadata);
          },
          (err: unknown) => {
            if (err instanceof ServiceTokenError) return refuse(grpc.status.UNAUTHENTICATED, err.message);
            log.error({ err, method }, "service token verification failed unexpectedly");
            refuse(grpc.status.UNAUTHENTICATED, "service token could not be verified");
          },
        );
      })
      .build();
    return new grpc.ServerInterceptingCall(call, { start: (next) => next(listener) });
  };
}

function bearerToken(metadata: grpc.Metadata): string | { problem: string } {
  const values = metadata.get("authorization");
  if (values.length === 0) return { problem: "missing service token (authorization: Bearer <token>)" };
  if (values.length > 1) return { problem: "more than one authorization value" };
  const match = typeof values[0] === "string" ? /^Bearer +([^\s]+)$/i.exec(values[0].trim()) : null;
  if (!match?.[1]) return { problem: 'authorization must be "Bearer <token>"' };
  if (match[1].length > 4096) return { problem: "service token is too long" };
  return match[1];
}
