import * as grpc from "@grpc/grpc-js";
import {
  createServiceTokenSigner,
  loadOrCreateDevServiceKey,
  serviceTokenInterceptor,
  type ServiceTokenSigner,
} from "@payments/common/auth/serviceTokens";
import { callersOf, type ServiceAccessPolicy } from "@payments/common/grpc/serviceAuth";

/** A signer for `service` with its development key in `dir` (created if missing). */
export async function devServiceSigner(dir: string, service: string): Promise<ServiceTokenSigner> {
  return createServiceTokenSigner(await loadOrCreateDevServiceKey(dir, service));
}

/**
 * A client interceptor for tests that call every method of a guarded service through one
 * client: each call is signed as the first service `policy` lets call that method.
 */
export async function policyTokenInterceptor(dir: string, policy: ServiceAccessPolicy): Promise<grpc.Interceptor> {
  const signers = new Map<string, grpc.Interceptor>();
  for (const service of Object.keys(policy.allow)) signers.set(service, serviceTokenInterceptor(await devServiceSigner(dir, service)));
  const prefix = `/${policy.service}/`;
  return (options, nextCall) => {
    const path = options.method_definition.path;
    const caller = path.startsWith(prefix) ? callersOf(policy, path.slice(prefix.length))[0] : undefined;
    const interceptor = caller === undefined ? undefined : signers.get(caller);
    return interceptor ? interceptor(options, nextCall) : new grpc.InterceptingCall(nextCall(options));
  };
}
