import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { LiveCounters, LoadResult } from "./load.js";

/** What the load worker is started with. */
export interface LoadWorkerData {
  paymentAddress: string;
  /** Pre-signed bearer tokens; the n-th payment is made with token n mod length. */
  tokens: string[];
  channels: number;
  /** A bigint as a string: bigints do not cross to a worker in every Node version's clone. */
  amountMinor: string;
  deadlineMs: number;
  /** Two Int32 slots: calls sent and accepted in the current run. */
  counters: SharedArrayBuffer;
}

/** A run (or the end) the worker is told to do; it answers each run with its LoadResult. */
export type LoadCommand =
  | { kind: "open"; runKey: string; ratePerS: number; durationMs: number }
  | { kind: "closed"; runKey: string; concurrency: number; durationMs: number }
  | { kind: "close" };

type LoadReply = { ok: true; result: LoadResult } | { ok: false; error: string };

/**
 * The live counts kept in `buffer` (slot 0: sent, slot 1: accepted), the same view in both
 * threads: the worker counts into it, the main thread reads it while a run goes.
 */
export function sharedCounters(buffer: SharedArrayBuffer): LiveCounters {
  const counters = new Int32Array(buffer);
  return {
    get sent() {
      return Atomics.load(counters, 0);
    },
    set sent(value: number) {
      Atomics.store(counters, 0, value);
    },
    get accepted() {
      return Atomics.load(counters, 1);
    },
    set accepted(value: number) {
      Atomics.store(counters, 1, value);
    },
  };
}

/**
 * Drives `CreatePayment` from a worker thread of its own. Latency is measured where the
 * calls are made, and in the main thread it would also contain the pauses of everything
 * else the benchmark does there (polling the database, reading /proc, collecting a heap
 * that holds MikroORM for the ceiling): tens of milliseconds now and then, charged to the
 * system under test. The worker's CPU is still this process's, so it is still counted as
 * the load generator's.
 */
export class LoadGenerator {
  /** Calls sent and accepted so far in the current run, read while it goes. */
  readonly live: LiveCounters;
  /** The run being waited for; the worker runs one at a time. */
  private pending?: { resolve(result: LoadResult): void; reject(err: Error): void };
  /** Why the worker is gone, once it is: later runs fail with it instead of waiting forever. */
  private gone?: Error;

  private constructor(private readonly worker: Worker, buffer: SharedArrayBuffer) {
    this.live = sharedCounters(buffer);
    worker.on("message", (reply: LoadReply) => {
      const pending = this.pending;
      this.pending = undefined;
      if (reply.ok) pending?.resolve(reply.result);
      else pending?.reject(new Error(`load worker failed: ${reply.error}`));
    });
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", (code) => this.fail(new Error(`load worker exited (code ${code})`)));
  }

  static start(options: Omit<LoadWorkerData, "counters">): LoadGenerator {
    const counters = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
    const workerData: LoadWorkerData = { ...options, counters };
    // Same extension as this module: .ts under tsx, .js once compiled.
    const typescript = path.extname(fileURLToPath(import.meta.url)) === ".ts";
    const entry = new URL(`./loadWorker${typescript ? ".ts" : ".js"}`, import.meta.url);
    const worker = typescript
      ? // Node 20 does not run the parent's `--import tsx` in a worker: register tsx there first.
        new Worker(`import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, {
          eval: true,
          workerData,
        })
      : new Worker(entry, { workerData });
    return new LoadGenerator(worker, counters);
  }

  open(runKey: string, ratePerS: number, durationMs: number): Promise<LoadResult> {
    return this.run({ kind: "open", runKey, ratePerS, durationMs });
  }

  closed(runKey: string, concurrency: number, durationMs: number): Promise<LoadResult> {
    return this.run({ kind: "closed", runKey, concurrency, durationMs });
  }

  async close(): Promise<void> {
    if (this.gone) return;
    this.worker.postMessage({ kind: "close" } satisfies LoadCommand);
    // A worker that does not exit on its own (a stuck channel) must not keep the benchmark alive.
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await once(this.worker, "exit");
    clearTimeout(timer);
  }

  private run(command: LoadCommand): Promise<LoadResult> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.pending) return Promise.reject(new Error("the load worker runs one load at a time"));
    // Zeroed before the run starts, so the first sample of the run's timeline is not the last run's.
    this.live.sent = 0;
    this.live.accepted = 0;
    return new Promise<LoadResult>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(command);
    });
  }

  private fail(err: Error): void {
    // The first reason is the one worth reporting ("error" comes before "exit").
    this.gone ??= err;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(err);
  }
}
