/**
 * The services' own view of a run's latency: the `grpc_server_handling_seconds` and
 * `grpc_client_handling_seconds` histograms each service exports on /metrics, read before
 * and after the run. Set beside the client's percentiles they say where a slow call spent
 * its time: inside Processing's Hold, between Payment and Processing (the hop and both
 * event loops), in Payment around it, or outside Payment (the network, the event loop
 * before the call reached the server, the load generator).
 */

/** Cumulative bucket counts by upper bound in seconds (+Inf included), for one RPC. */
type Buckets = Map<number, number>;

const SERVER = "grpc_server_handling_seconds";
const CLIENT = "grpc_client_handling_seconds";

/** The timings reported: which service's histogram, of which method, as server or as client. */
export const TIMED_RPCS = [
  { label: "CreatePayment", service: "payment", method: "CreatePayment", metric: SERVER },
  { label: "Hold in Payment", service: "payment", method: "Hold", metric: CLIENT },
  { label: "Hold", service: "processing", method: "Hold", metric: SERVER },
  { label: "Settle", service: "processing", method: "Settle", metric: SERVER },
] as const;

export type TimedRpc = (typeof TIMED_RPCS)[number]["label"];

/** Server-side p50 and p99 in milliseconds, estimated within histogram buckets. */
export type ServerLatency = Partial<Record<TimedRpc, { count: number; p50: number; p99: number }>>;

const SAMPLE = /^(\w+)_bucket\{([^}]*)\} (\S+)$/;

/** Sums the buckets of `metric` for `method` over every status code (a failed call took its time too). */
function parseBuckets(text: string, metric: string, method: string): Buckets {
  const buckets: Buckets = new Map();
  for (const line of text.split("\n")) {
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== metric || !match[2]!.includes(`grpc_method="${method}"`)) continue;
    const le = /le="([^"]+)"/.exec(match[2]!)?.[1];
    if (!le) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[3]));
  }
  return buckets;
}

/** The q-quantile in ms, linear within the bucket it falls in (as Prometheus' histogram_quantile). */
function quantileMs(buckets: Array<[number, number]>, q: number): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      // The last finite bound is the best guess for a value in the +Inf bucket.
      if (!Number.isFinite(bound)) return lower * 1000;
      return (lower + ((bound - lower) * (rank - below)) / Math.max(1, count - below)) * 1000;
    }
    lower = bound;
    below = count;
  }
  return lower * 1000;
}

/** The services' /metrics texts by service name; a service without a port, or not answering, is left out. */
export async function fetchMetricsTexts(metricsPorts: Partial<Record<string, number>>): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const [service, port] of Object.entries(metricsPorts)) {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
    if (response?.ok) texts.set(service, await response.text());
  }
  return texts;
}

/** Reads the timed RPCs' histograms out of the services' /metrics texts. */
export class ServerLatencyProbe {
  /** Every timed RPC's buckets in the services' /metrics texts (by service name). */
  static read(texts: Map<string, string>): Map<TimedRpc, Buckets> {
    const snapshot = new Map<TimedRpc, Buckets>();
    for (const rpc of TIMED_RPCS) {
      const text = texts.get(rpc.service);
      if (text !== undefined) snapshot.set(rpc.label, parseBuckets(text, rpc.metric, rpc.method));
    }
    return snapshot;
  }

  /** The percentiles of the calls answered between two snapshots. */
  static between(before: Map<TimedRpc, Buckets>, after: Map<TimedRpc, Buckets>): ServerLatency {
    const latency: ServerLatency = {};
    for (const [rpc, afterBuckets] of after) {
      const beforeBuckets = before.get(rpc) ?? new Map<number, number>();
      const delta = [...afterBuckets.entries()]
        .map(([bound, count]): [number, number] => [bound, count - (beforeBuckets.get(bound) ?? 0)])
        .sort(([a], [b]) => a - b);
      const count = delta.at(-1)?.[1] ?? 0;
      if (count > 0) latency[rpc] = { count, p50: quantileMs(delta, 0.5), p99: quantileMs(delta, 0.99) };
    }
    return latency;
  }
}
