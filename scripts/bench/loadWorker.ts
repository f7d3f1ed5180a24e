import { parentPort, workerData } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import { replaceAsyncResourceBind } from "@payments/common/asyncResourceBind";
import { CHANNELZ_OFF } from "@payments/common/internalTransport";
import { keepPerCallTablesYoung } from "@payments/common/youngTables";
import { PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { runClosedLoop, runOpenLoop, type LoadResult, type LoadTarget } from "./load.js";
import { sharedCounters, type LoadCommand, type LoadWorkerData } from "./loadGenerator.js";

/**
 * The load generator's own thread (see loadGenerator.ts): nothing but the gRPC clients and
 * the pre-signed tokens live here, so its event loop and its small heap are not stalled by
 * the benchmark's database probes or by collections of the main thread's large heap.
 */
const data = workerData as LoadWorkerData;
// A gRPC client like the services (see asyncResourceBind.ts, youngTables.ts): its pauses would
// count as latency.
replaceAsyncResourceBind();
keepPerCallTablesYoung();
/** Where the live counts are written for the main thread. */
const live = sharedCounters(data.counters);

const metadata = data.tokens.map((token) => {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
});
// A local subchannel pool per client: otherwise grpc-js shares one TCP connection among them.
// Channelz off as in the services: its per-call bookkeeping would only add to the load
// generator's CPU, which shares the cores with the system measured.
const clients = Array.from(
  { length: data.channels },
  () => new PaymentServiceClient(data.paymentAddress, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, ...CHANNELZ_OFF }),
);
const target: LoadTarget = {
  clients,
  metadataFor: (n) => metadata[n % metadata.length]!,
  amountMinor: BigInt(data.amountMinor),
  deadlineMs: data.deadlineMs,
};

function run(command: Exclude<LoadCommand, { kind: "close" }>): Promise<LoadResult> {
  // The counters were zeroed by the main thread before the command was sent.
  return command.kind === "open"
    ? runOpenLoop(target, command.runKey, command.ratePerS, command.durationMs, live)
    : runClosedLoop(target, command.runKey, command.concurrency, command.durationMs, live);
}

parentPort!.on("message", (command: LoadCommand) => {
  if (command.kind === "close") {
    clients.forEach((client) => client.close());
    parentPort!.close();
    return;
  }
  run(command).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
