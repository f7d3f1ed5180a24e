/**
 * Deterministic crash points for fault-injection tests. A process started with
 * CRASH_AT=<name> kills itself with SIGKILL the first time it reaches `crashPoint(<name>)`,
 * exactly as a power cut at that step would. Unset (always, outside tests) it costs one
 * string comparison. This is the one place besides config files that reads the
 * environment: it is a test hook, not a setting.
 */
const armed = process.env.CRASH_AT ?? "";

/** Names of the steps a test can crash a service at. */
export type CrashPointName =
  /** Payment: Hold committed, the client not answered yet. */
  | "payment.after-hold"
  /** Payment: the client answered, the hand-over not published yet. */
  | "payment.before-publish"
  /** Gateway: the provider answered, Settle not called yet. */
  | "gateway.after-charge"
  /** Gateway: Settle committed, the message not acked yet. */
  | "gateway.after-settle"
  /** Processing: a Settle transaction committed, the reply not sent yet. */
  | "processing.after-settle-commit"
  /** Processing: a Hold transaction committed, the reply not sent yet. */
  | "processing.after-hold-commit";

export function crashPoint(name: CrashPointName): void {
  if (armed === name) process.kill(process.pid, "SIGKILL");
}

/**
 * Like {@link crashPoint}, but the kill comes `delayMs` later and the returned promise never
 * settles, so nothing after it runs: for steps that follow a reply, which grpc-js flushes
 * to the client only after the handler's callback returns. Unarmed, it resolves at once.
 */
export async function crashPointAfterFlush(name: CrashPointName, delayMs = 200): Promise<void> {
  if (armed !== name) return;
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  process.kill(process.pid, "SIGKILL");
  await new Promise(() => undefined);
}
