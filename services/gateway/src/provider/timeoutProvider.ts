import { ProviderUnavailableError, type PaymentProvider } from "./paymentProvider.js";

/**
 * Gives every call to the provider a deadline. A call that hangs (a blackholed connection,
 * a stalled database behind it) becomes a ProviderUnavailableError after `timeoutMs`: the
 * outcome is then unknown, so the payment is retried with the same key and, after the
 * budget, decided by a status lookup, instead of holding one of the gateway's slots forever.
 */
export function withProviderTimeout(provider: PaymentProvider, timeoutMs: number): PaymentProvider {
  const bounded = <T>(call: string, work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProviderUnavailableError(`provider ${call} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    charge: (request) => bounded("charge", provider.charge(request)),
    status: (key) => bounded("status", provider.status(key)),
  };
}
