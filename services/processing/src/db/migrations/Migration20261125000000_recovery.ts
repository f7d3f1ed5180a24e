import { Migration } from "@mikro-orm/migrations";

/**
 * Recovery of the saga: `nudged_at` stamps a payment the gateway's reconciler claimed (so
 * replicas never claim it twice in one round), `review_reason`/`review_since` park a payment
 * for a person, and a settlement may carry a note (an operator's). Review exists only while
 * the payment is CREATED; Settle clears it.
 */
export class Migration20261125000000_recovery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table payments
        add column nudged_at timestamptz,
        add column review_reason text,
        add column review_since timestamptz,
        add constraint payments_review_complete check ((review_reason is null) = (review_since is null)),
        add constraint payments_review_only_while_created check (review_since is null or status = 'CREATED');`);
    this.addSql(`create index payments_under_review_idx on payments (id) where review_since is not null;`);
    this.addSql(`alter table settlements add column note text;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table settlements drop column if exists note;`);
    this.addSql(`drop index if exists payments_under_review_idx;`);
    this.addSql(`
      alter table payments
        drop constraint if exists payments_review_only_while_created,
        drop constraint if exists payments_review_complete,
        drop column if exists review_since,
        drop column if exists review_reason,
        drop column if exists nudged_at;`);
  }
}
