/**
 * `npm run chaos -- --seed N --duration S [--rate R]`: runs the whole system on its own
 * PostgreSQL and NATS (two gateways), sends a load of CreatePayment calls from the demo users
 * (retrying with the same key on UNAVAILABLE), and meanwhile kills and restarts random
 * components, chosen by a PRNG seeded with N, R times a second on average. Then everything is
 * brought back, the system must quiesce, and the invariant checker gives the verdict.
 * Exit 0 when every invariant holds and no payment is stuck, 1 otherwise.
 */
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import { signDevToken } from "@payments/common/auth/devToken";
import { callUnary } from "@payments/common/grpc/client";
import { PaymentServiceClient, type CreatePaymentRequest } from "@payments/contracts/gen/payments/v1/payment_service";
import { Cluster } from "./lib/cluster.js";
import { formatInvariantReport, openPaymentsDatabase, runInvariantReport } from "./lib/invariantReport.js";
import { query } from "../services/processing/src/money/sql.js";
import { runCli, UsageError } from "./lib/cli.js";

const USAGE = `usage: npm run chaos -- [--seed N] [--duration S] [--rate R] [--quiesce-timeout S] [--verbose]
  --seed             PRNG seed: the same seed picks the same faults (default: random, printed)
  --duration         seconds of load and faults (default 60)
  --rate             faults per second on average (default 0.3)
  --quiesce-timeout  seconds the healed system gets to finish every payment (default 120)
  --verbose          print every component's log
`;

/** mulberry32: small, fast and good enough to pick faults reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = ["alice", "bob", "carol"];
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED]);
const say = (text: string) => process.stdout.write(`[chaos] ${text}\n`);

runCli(async () => {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      duration: { type: "string", default: "60" },
      rate: { type: "string", default: "0.3" },
      "quiesce-timeout": { type: "string", default: "120" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const number = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}\n${USAGE}`);
    return n;
  };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number("seed", values.seed, 0);
  const durationMs = number("duration", values.duration, 1) * 1000;
  const rate = number("rate", values.rate, 0);
  const quiesceMs = number("quiesce-timeout", values["quiesce-timeout"], 1) * 1000;
  // Faults and load draw from separate streams, so the load's timing does not change the faults.
  const random = prng(seed);
  const loadRandom = prng(seed ^ 0x9e3779b9);
  say(`seed ${seed}, duration ${durationMs / 1000} s, rate ${rate}/s`);

  const unexpected: string[] = [];
  const cluster = await Cluster.start({
    replicas: { gateway: 2 },
    seedDemoData: true,
    env: {
      processing: { LOG_LEVEL: "warn" },
      payment: { LOG_LEVEL: "warn" },
      gateway: {
        LOG_LEVEL: "warn",
        PROVIDER_LATENCY_MS: "100",
        PROVIDER_LATENCY_JITTER_MS: "200",
        PROVIDER_TRANSIENT_FAILURE_RATE: "0.05",
        GATEWAY_ACK_WAIT_MS: "3000",
        GATEWAY_RETRY_BASE_MS: "200",
        GATEWAY_RETRY_CAP_MS: "2000",
        GATEWAY_SETTLE_RETRY_CAP_MS: "1000",
        GATEWAY_RECONCILE_INTERVAL_MS: "1000",
        GATEWAY_STALE_AFTER_MS: "3000",
      },
    },
    onLine: (component, line) => {
      if (values.verbose) process.stdout.write(`[${component}] ${line}\n`);
      // Errors a service did not expect are what a failed run needs explained; keep a few.
      else if (line.includes('"level":50') && unexpected.length < 20) unexpected.push(`[${component}] ${line.slice(0, 2_000)}`);
    },
  });
  const counts = { accepted: 0, approved: 0, rejected: 0, refused: 0, gaveUp: 0 };
  const kills: Record<string, number> = {};
  let verdict = false;
  try {
    const keys = await loadOrCreateDevKeys(cluster.devKeysDir);
    const client = new PaymentServiceClient(cluster.address("payment"), grpc.credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
    });
    const loadEnds = Date.now() + durationMs;
    let sequence = 0;

    /** One user's client: pays small amounts one after another, retrying each with its key. */
    const runUser = async (userId: string) => {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${await signDevToken(keys, userId, 24 * 3600)}`);
      while (Date.now() < loadEnds) {
        const request: CreatePaymentRequest = {
          idempotencyKey: `chaos-${seed}-${userId}-${sequence++}`,
          serviceId: "mobile-top-up",
          details: { kind: { $case: "mobileTopUp", value: { phoneNumber: loadRandom() < 0.1 ? "+14155550199" : "+14155550123" } } },
          amount: { currencyCode: "USD", amountMinor: BigInt(100 + Math.floor(loadRandom() * 400)) },
        };
        // The client keeps retrying the same key well after the faults stop.
        for (const retryEnds = loadEnds + quiesceMs; ; ) {
          try {
            await callUnary(client.createPayment.bind(client), request, { metadata, deadlineMs: 5_000 });
            counts.accepted++;
            break;
          } catch (err) {
            const code = (err as grpc.ServiceError).code;
            if (code === grpc.status.FAILED_PRECONDITION) {
              counts.refused++;
              break;
            }
            if (!RETRYABLE.has(code) || Date.now() > retryEnds) {
              counts.gaveUp++;
              say(`${userId}: gave up on ${request.idempotencyKey}: ${(err as Error).message}`);
              break;
            }
            await sleep(200);
          }
        }
        await sleep(50 + loadRandom() * 150);
      }
    };

    /** Picks a component, kills it the way that hurts most, leaves it down a while, brings it back. */
    const runFaults = async () => {
      const components = [...cluster.instanceNames(), "nats", "postgres"];
      while (Date.now() < loadEnds) {
        await sleep(rate > 0 ? (-Math.log(1 - random()) / rate) * 1000 : durationMs);
        if (Date.now() >= loadEnds) break;
        const victim = components[Math.floor(random() * components.length)]!;
        const downMs = 200 + Math.floor(random() * 2_500);
        kills[victim] = (kills[victim] ?? 0) + 1;
        say(`kill ${victim} for ${downMs} ms`);
        if (victim === "nats") {
          await cluster.stopNats("SIGKILL");
          await sleep(downMs);
          await cluster.startNats();
        } else if (victim === "postgres") {
          await cluster.stopPostgres("SIGKILL");
          await sleep(downMs);
          await cluster.startPostgres();
        } else if (random() < 0.25) {
          // Frozen rather than dead: it comes back with everything it held.
          cluster.pause(victim);
          await sleep(downMs);
          cluster.resume(victim);
        } else {
          await cluster.stopInstance(victim, "SIGKILL");
          await sleep(downMs);
          await cluster.startInstance(victim);
        }
      }
    };

    await Promise.all([...USERS.map(runUser), runFaults()]);
    say(`load and faults over; waiting up to ${quiesceMs / 1000} s for every payment to finish`);

    const orm = await openPaymentsDatabase(cluster.databaseUrl);
    try {
      const quiesceEnds = Date.now() + quiesceMs;
      let pending = -1;
      while (Date.now() < quiesceEnds) {
        const rows = await query<{ n: string }>(orm.em.fork(), "select count(*) as n from payments p where status = 'CREATED' and to_jsonb(p) ->> 'review_reason' is null").catch(() => [{ n: "-1" }]);
        pending = Number(rows[0]!.n);
        if (pending === 0) break;
        await sleep(500);
      }
      const statuses = await query<{ status: string; n: string }>(orm.em.fork(), "select status, count(*) as n from payments group by status");
      for (const row of statuses) {
        if (row.status === "APPROVED") counts.approved = Number(row.n);
        if (row.status === "REJECTED") counts.rejected = Number(row.n);
      }
      const report = await runInvariantReport(orm.em.fork(), { pendingOlderThanMs: 0 });
      process.stdout.write(formatInvariantReport(report));
      verdict = report.ok && counts.gaveUp === 0;
    } finally {
      await orm.close();
      client.close();
    }
  } finally {
    await cluster.stop();
  }
  if (!verdict) for (const line of unexpected) say(line);
  say(`seed ${seed}: ${verdict ? "PASSED" : "FAILED"}`);
  say(`payments accepted ${counts.accepted}, approved ${counts.approved}, rejected ${counts.rejected}, refused ${counts.refused}, given up ${counts.gaveUp}`);
  say(`kills: ${Object.entries(kills).map(([name, n]) => `${name} ${n}`).join(", ") || "none"}`);
  return verdict ? 0 : 1;
});
