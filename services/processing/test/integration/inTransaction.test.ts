import { AsyncLocalStorage } from "node:async_hooks";
import { expect } from "chai";
import { inTransaction, query } from "../../src/money/sql.js";
import { ProcessingHarness } from "./processingHarness.js";

describe("inTransaction: one database transaction without MikroORM's AsyncLocalStorage (real PostgreSQL)", () => {
  let h: ProcessingHarness;
  const table = "in_transaction_test";
  before(async () => {
    h = await ProcessingHarness.start();
    await query(h.em(), `create table ${table} (id int primary key)`);
  });
  after(async () => {
    await query(h.em(), `drop table if exists ${table}`).catch(() => undefined);
    await h?.stop();
  });
  const ids = async () => (await query<{ id: number }>(h.em(), `select id from ${table} order by id`)).map((row) => row.id);

  it("commits what the function wrote once it resolves, and answers with its result", async () => {
    const result = await inTransaction(h.em(), async (tx) => {
      await query(tx, `insert into ${table} (id) values (1), (2)`);
      // Not visible outside before the commit.
      expect(await ids()).to.deep.equal([]);
      return "done";
    });
    expect(result).to.equal("done");
    expect(await ids()).to.deep.equal([1, 2]);
  });

  it("rolls back everything the function wrote when it throws, and rethrows", async () => {
    const failing = inTransaction(h.em(), async (tx) => {
      await query(tx, `insert into ${table} (id) values (3)`);
      throw new Error("changed my mind");
    });
    const err = await failing.then(() => undefined, (thrown: unknown) => thrown);
    expect(err).to.be.an("error").with.property("message", "changed my mind");
    expect(await ids()).to.deep.equal([1, 2]);
  });

  it("never runs an AsyncLocalStorage, whose first use would hook every promise of the process", async () => {
    const used: string[] = [];
    const { run, enterWith } = AsyncLocalStorage.prototype;
    AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, ...args: Parameters<typeof run>) {
      used.push("run");
      return run.apply(this, args);
    } as typeof run;
    AsyncLocalStorage.prototype.enterWith = function (this: AsyncLocalStorage<unknown>, store: unknown) {
      used.push("enterWith");
      return enterWith.call(this, store);
    };
    try {
      await inTransaction(h.em(), (tx) => query(tx, `insert into ${table} (id) values (4)`));
    } finally {
      AsyncLocalStorage.prototype.run = run;
      AsyncLocalStorage.prototype.enterWith = enterWith;
    }
    expect(used).to.deep.equal([]);
    expect(await ids()).to.deep.equal([1, 2, 4]);
  });
});
