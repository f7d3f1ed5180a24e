import { Migration } from "@mikro-orm/migrations";

/**
 * `trace_parent`: the W3C traceparent of the Hold that created the payment, so a payment the
 * gateway's reconciler hands over again continues the payment's one trace.
 */
export class Migration20261126000000_traceContext extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table payments add column trace_parent varchar(55);`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table payments drop column if exists trace_parent;`);
  }
}
