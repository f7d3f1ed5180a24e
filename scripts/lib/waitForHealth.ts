import { setTimeout as sleep } from "node:timers/promises";
import { checkHealth } from "@payments/common/grpc/healthCheck";

/** Options of {@link waitForHealthy}. */
export interface WaitForHealthyOptions {
  /** Service name to ask about; "" (the default) is the whole server. */
  service?: string;
  /** Pause between two checks. */
  intervalMs?: number;
  /** Stops waiting early, e.g. when the process being waited for has exited. */
  signal?: AbortSignal;
}

/**
 * Polls the gRPC health service at `address` until it reports SERVING. Rejects after
 * `timeoutMs` with the last status or error seen, so a failed start says why.
 */
export async function waitForHealthy(address: string, timeoutMs: number, options: WaitForHealthyOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const interval = options.intervalMs ?? 200;
  const checkDeadlineMs = 1_000;
  let last: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`${address} was not healthy after ${timeoutMs} ms (last: ${last ?? "no answer yet"})`);
    try {
      const status = await checkHealth(address, { service: options.service, deadlineMs: Math.min(checkDeadlineMs, remaining) });
      if (status === "SERVING") return;
      last = status;
    } catch (err) {
      // A check cut short by the overall timeout says nothing new: keep the answer before it.
      if (remaining >= checkDeadlineMs || last === undefined) last = (err as Error).message;
    }
    try {
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
    } catch (err) {
      // timers/promises rejects with a generic AbortError; the caller's reason says more.
      options.signal?.throwIfAborted();
      throw err;
    }
  }
}
