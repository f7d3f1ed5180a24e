import { execFileSync } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { types } from "node:util";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { pino } from "pino";
import { connectNats } from "../../src/nats.js";
import { keepPerCallTablesYoung, keepTablesYoung, renewTables, trackedTableOwners } from "../../src/youngTables.js";

const survivalProbe = fileURLToPath(new URL("../fixtures/mapTableSurvival.ts", import.meta.url));

/** Garbage bytes left after a scavenge, from a fresh process (see the fixture). */
function survivingGarbageBytes(renewed: boolean): number {
  const args = ["--expose-gc", "--min-semi-space-size=16", "--import", "tsx", "--conditions=source", survivalProbe, ...(renewed ? ["renewed"] : [])];
  return Number(execFileSync(process.execPath, args, { encoding: "utf8" }).trim());
}

const echo = {
  path: "/test.Echo/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
} as const;

describe("youngTables", () => {
  before(() => keepPerCallTablesYoung());

  it("replaces each tracked Map or Set with a copy of the same class and entries, and leaves other fields alone", () => {
    class Streams extends Map<number, string> {}
    const streams = new Streams([[1, "one"]]);
    const pending = new Set(["a"]);
    const owner: Record<string, unknown> = { streams, pending, count: 3 };
    keepTablesYoung(owner, ["streams", "pending", "count", "absent"]);
    renewTables();
    expect(owner.streams).to.be.instanceOf(Streams).and.not.equal(streams);
    expect([...(owner.streams as Streams)]).to.deep.equal([[1, "one"]]);
    expect(owner.pending).to.be.instanceOf(Set).and.not.equal(pending);
    expect([...(owner.pending as Set<string>)]).to.deep.equal(["a"]);
    expect(owner.count).to.equal(3);
    expect(owner).not.to.have.property("absent");
  });

  it("tracks the stream tables of Node's HTTP/2 sessions, client and server, until they close", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const before = trackedTableOwners().length;
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      await new Promise<void>((resolve, reject) => {
        const request = session.request({ ":path": "/" });
        request.on("error", reject).on("close", resolve).resume().end();
      });
      const states = trackedTableOwners().slice(before) as Array<Record<string, unknown>>;
      expect(states, "the client's and the server's session").to.have.length(2);
      for (const state of states) {
        const streams = state.streams;
        // Node's SafeMap and SafeSet, which do not inherit from Map.prototype and Set.prototype.
        expect(types.isMap(streams)).to.equal(true);
        expect(types.isSet(state.pendingStreams)).to.equal(true);
        renewTables();
        expect(state.streams).not.to.equal(streams);
        expect(types.isMap(state.streams)).to.equal(true);
        expect(Object.getPrototypeOf(state.streams)).to.equal(Object.getPrototypeOf(streams));
      }
    } finally {
      await new Promise<void>((resolve) => session.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    }
    // A session forgets its tables on its "close" event, which may follow the server's.
    for (let waited = 0; trackedTableOwners().length > before && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(trackedTableOwners()).to.have.length(before);
  });

  it("tracks the active calls of grpc-js's connections", async () => {
    const server = new grpc.Server();
    server.addService({ Echo: echo }, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, call.request) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(echo.path, echo.requestSerialize, echo.responseDeserialize, Buffer.from("hi"), (err, value) => (err ? reject(err) : resolve(value!))),
      );
      expect(reply.toString()).to.equal("hi");
      const transports = trackedTableOwners().filter((owner) => "activeCalls" in owner);
      expect(transports).to.have.length.above(0);
      expect((transports[0] as { activeCalls: unknown }).activeCalls).to.be.instanceOf(Set);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it("tracks the NATS client's pending requests and subscriptions (a JetStream publish's acknowledgement, a pull)", async () => {
    const nc = await connectNats(process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222", "young-tables-test", pino({ level: "silent" }));
    try {
      for (const field of ["reqs", "subs"]) {
        const owners = trackedTableOwners().filter((owner) => field in owner);
        expect(owners, field).to.have.length.above(0);
        expect((owners.at(-1) as Record<string, unknown>)[field], field).to.be.instanceOf(Map);
      }
    } finally {
      await nc.close();
    }
  });

  it("lets a scavenge free what a churned long-lived Map held (V8 keeps it until a full collection)", function () {
    this.timeout(20_000);
    // ~2.7 MB of entries went through a Map whose table was old. If V8 ever stops keeping them,
    // the renewal has no reason left: remove youngTables.ts.
    expect(survivingGarbageBytes(false), "an old table").to.be.above(1_500_000);
    expect(survivingGarbageBytes(true), "renewed after each collection").to.be.below(600_000);
  });
});
