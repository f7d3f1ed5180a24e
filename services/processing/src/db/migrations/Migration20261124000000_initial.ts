import { Migration } from "@mikro-orm/migrations";

/**
 * Accounts, payments, the ledger and settle idempotency. Every money invariant that the
 * database can hold is a constraint here, so a bug in the code fails loudly instead of
 * corrupting balances.
 */
export class Migration20261124000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table accounts (
        id uuid primary key,
        owner_id varchar(140) not null,
        currency char(3) not null,
        kind varchar(16) not null check (kind in ('USER', 'PROVIDER')),
        balance_minor bigint not null default 0 check (balance_minor >= 0),
        held_minor bigint not null default 0 check (held_minor >= 0),
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint accounts_held_within_balance check (held_minor <= balance_minor),
        constraint accounts_owner_currency_unique unique (owner_id, currency)
      );`);
    this.addSql(`
      create table payments (
        id uuid primary key,
        user_id varchar(128) not null,
        idempotency_key varchar(64) not null,
        request_hash char(64) not null,
        payer_account_id uuid not null references accounts (id),
        payee_account_id uuid not null references accounts (id),
        service_id varchar(64) not null,
        details jsonb not null,
        amount_minor bigint not null check (amount_minor > 0),
        currency char(3) not null,
        status varchar(16) not null check (status in ('CREATED', 'APPROVED', 'REJECTED')),
        reject_reason varchar(48),
        reject_message text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        resolved_at timestamptz,
        constraint payments_user_idempotency_key_unique unique (user_id, idempotency_key),
        constraint payments_resolved_when_terminal check ((status = 'CREATED') = (resolved_at is null)),
        constraint payments_reason_when_rejected check ((status = 'REJECTED') = (reject_reason is not null)),
        constraint payments_not_to_self check (payer_account_id <> payee_account_id)
      );`);
    this.addSql(`create index payments_user_id_id_idx on payments (user_id, id desc);`);
    this.addSql(`create index payments_created_idx on payments (created_at) where status = 'CREATED';`);
    this.addSql(`
      create table ledger_entries (
        id bigserial primary key,
        account_id uuid not null references accounts (id),
        payment_id uuid references payments (id),
        kind varchar(16) not null check (kind in ('DEPOSIT', 'HOLD', 'CAPTURE', 'CREDIT', 'RELEASE')),
        amount_minor bigint not null check (amount_minor > 0),
        currency char(3) not null,
        reference varchar(128),
        created_at timestamptz not null default now(),
        -- A payment is held once and resolved once: at most one entry of each kind.
        constraint ledger_entries_payment_kind_unique unique (payment_id, kind),
        constraint ledger_entries_reference_unique unique (reference),
        constraint ledger_entries_payment_or_deposit check ((kind = 'DEPOSIT') = (payment_id is null))
      );`);
    this.addSql(`create index ledger_entries_account_idx on ledger_entries (account_id);`);
    this.addSql(`
      create table settlements (
        idempotency_key varchar(128) primary key,
        payment_id uuid not null references payments (id),
        outcome varchar(16) not null check (outcome in ('APPROVED', 'REJECTED')),
        created_at timestamptz not null default now()
      );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists settlements, ledger_entries, payments, accounts;`);
  }
}
