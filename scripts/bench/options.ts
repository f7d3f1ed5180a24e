import { parseArgs } from "node:util";

/** Everything `npm run bench -- …` can be told; see USAGE. */
export interface BenchOptions {
  users: number;
  hot: boolean;
  /** Open-loop rates; when given, no closed-loop search is run. */
  rates: number[];
  concurrencies: number[];
  fractions: number[];
  durationMs: number;
  warmupMs: number;
  ceilingDurationMs: number;
  ceiling: boolean;
  channels: number;
  providerLatencyMs: number;
  providerJitterMs: number;
  gatewayConcurrency: number;
  gatewaySettleConcurrency: number;
  dbPool: number;
  amountMinor: bigint;
  deadlineMs: number;
  drainTimeoutMs: number;
  target?: string;
  databaseUrl?: string;
  devKeysDir?: string;
  profile: boolean;
  /** Run the services from source under tsx instead of building and running dist/. */
  fromSource: boolean;
  outDir: string;
  docsChart: boolean;
}

/**
 * Freshly started services spend 20-33 % of their CPU in V8's optimising compiler during the
 * first 15 s of load, about 9 % at 20 s and at most 3 % after 25 s (perf, per thread, at the
 * maximum rate). Measured any earlier, the runs would report start-up, not capacity.
 */
const DEFAULT_WARMUP_S = 25;

export const USAGE = `npm run bench -- [options]

Starts the three services (like the whole-system tests: the machine's PostgreSQL and NATS,
a database and a stream of its own, removed afterwards), seeds funded accounts, measures
the direct-SQL ceiling, closed-loop runs to find the maximum, the ceiling again (the ratio
uses the mean of the two), then open-loop runs at fractions of the maximum. Prints a table;
writes bench-results/latest.json and latest.svg.

  --users N                 funded users the load is spread over (2000)
  --hot                     all payments from one account with a big balance
  --rate R[,R…]             open-loop runs at these rates (payments/s) instead of the search
  --concurrency C[,C…]      closed-loop callers; the best run is the maximum (16,32)
  --fractions F[,F…]        open-loop rates as fractions of the maximum (0.25,0.5,0.75)
  --duration S              seconds per run (15)
  --warmup S                warm-up before measuring, not reported (25): the services' JIT compilers
                            take a fifth of their CPU in the first 15 s of load; a closed loop, or
                            with --rate an open loop at the first rate
  --ceiling-duration S      seconds of the direct-SQL ceiling (10), each after 5 s not measured; --no-ceiling skips it
  --channels N              gRPC channels (TCP connections) of the load generator (4)
  --provider-latency-ms MS  stub provider latency (0: capacity); --provider-jitter-ms MS adds up to MS at random
  --gateway-concurrency N   GATEWAY_CONCURRENCY (256): payments, provider calls included, one gateway carries at once
  --gateway-settle-concurrency N
                            GATEWAY_SETTLE_CONCURRENCY (32): Settle calls one gateway has in flight
  --db-pool N               DB_POOL_MAX of Processing, and the ceiling's connections (10)
  --amount-minor N          amount of each payment in USD cents (100)
  --target HOST:PORT        drive a running system instead (needs --database-url; --dev-keys-dir defaults to .data/dev-keys)
  --profile                 services write V8 CPU profiles to bench-results/profiles/
  --from-source             run the services from source under tsx (default: npm run build, then dist/ as in production)
  --out DIR                 results folder (bench-results)
  --no-docs-chart           do not copy the chart to docs/bench/latest.svg
`;

function numbers(raw: string | undefined, fallback: number[], name: string): number[] {
  if (raw === undefined) return fallback;
  const values = raw.split(",").map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`--${name} takes positive numbers, got "${raw}"`);
  return values;
}

function one(raw: string | undefined, fallback: number, name: string, allowZero = false): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new Error(`--${name} takes a ${allowZero ? "non-negative" : "positive"} number, got "${raw}"`);
  return value;
}

/** Parses the command line; throws with a message naming the bad option. */
export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      users: { type: "string" },
      hot: { type: "boolean" },
      rate: { type: "string" },
      concurrency: { type: "string" },
      fractions: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "ceiling-duration": { type: "string" },
      "no-ceiling": { type: "boolean" },
      channels: { type: "string" },
      "provider-latency-ms": { type: "string" },
      "provider-jitter-ms": { type: "string" },
      "gateway-concurrency": { type: "string" },
      "gateway-settle-concurrency": { type: "string" },
      "db-pool": { type: "string" },
      "amount-minor": { type: "string" },
      target: { type: "string" },
      "database-url": { type: "string" },
      "dev-keys-dir": { type: "string" },
      profile: { type: "boolean" },
      "from-source": { type: "boolean" },
      out: { type: "string" },
      "no-docs-chart": { type: "boolean" },
    },
  });
  if (values.help) return "help";
  if (values.target && !values["database-url"]) throw new Error("--target needs --database-url (to seed accounts and read the payments)");
  const durationS = one(values.duration, 15, "duration");
  const providerLatencyMs = one(values["provider-latency-ms"], 0, "provider-latency-ms", true);
  const providerJitterMs = one(values["provider-jitter-ms"], 0, "provider-jitter-ms", true);
  return {
    users: Math.round(one(values.users, 2000, "users")),
    hot: values.hot ?? false,
    rates: numbers(values.rate, [], "rate"),
    concurrencies: numbers(values.concurrency, [16, 32], "concurrency").map(Math.round),
    fractions: numbers(values.fractions, [0.25, 0.5, 0.75], "fractions"),
    durationMs: durationS * 1000,
    warmupMs: one(values.warmup, DEFAULT_WARMUP_S, "warmup", true) * 1000,
    ceilingDurationMs: one(values["ceiling-duration"], 10, "ceiling-duration") * 1000,
    ceiling: !values["no-ceiling"],
    channels: Math.round(one(values.channels, 4, "channels")),
    providerLatencyMs,
    providerJitterMs,
    gatewayConcurrency: Math.round(one(values["gateway-concurrency"], 256, "gateway-concurrency")),
    gatewaySettleConcurrency: Math.round(one(values["gateway-settle-concurrency"], 32, "gateway-settle-concurrency")),
    dbPool: Math.round(one(values["db-pool"], 10, "db-pool")),
    amountMinor: BigInt(Math.round(one(values["amount-minor"], 100, "amount-minor"))),
    deadlineMs: 10_000,
    // A slow provider needs its latency to drain the last payments, plus room for retries.
    drainTimeoutMs: 30_000 + 3 * (providerLatencyMs + providerJitterMs),
    target: values.target,
    databaseUrl: values["database-url"],
    devKeysDir: values["dev-keys-dir"],
    profile: values.profile ?? false,
    fromSource: values["from-source"] ?? false,
    outDir: values.out ?? "bench-results",
    docsChart: !values["no-docs-chart"],
  };
}
