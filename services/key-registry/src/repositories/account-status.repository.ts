import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface DisabledAccount {
  email: string;
  disabledAt: Date;
}

/**
 * Whether the people who own keys may still use them: key-registry's own view of the accounts auth
 * disabled (`disabled_accounts`), kept from auth's `account.status-changed` events and its
 * `auth.list-disabled-accounts` answers. It outlives a restart, so keys of a disabled account stay
 * refused while auth cannot be asked.
 */
@Injectable()
export class AccountStatusRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Whether the account with this e-mail address is disabled. */
  async isDisabled(email: string): Promise<boolean> {
    const rows = (await this.db.query('SELECT 1 FROM disabled_accounts WHERE email = $1', [email.toLowerCase()])) as unknown[];
    return rows.length > 0;
  }

  /**
   * Accounts this view learnt were disabled after `since` (by key-registry's clock, so one learnt late
   * after an outage still counts as new), with when auth disabled them.
   */
  async disabledSince(since: Date): Promise<DisabledAccount[]> {
    const rows = (await this.db.query('SELECT email, disabled_at FROM disabled_accounts WHERE recorded_at > $1', [since])) as {
      email: string;
      disabled_at: Date;
    }[];
    return rows.map((r) => ({ email: r.email, disabledAt: new Date(r.disabled_at) }));
  }

  /** Records accounts as disabled (a later disabling of the same account moves its time). */
  async markDisabled(accounts: readonly DisabledAccount[], at: Date): Promise<void> {
    await upsert((sql, params) => this.db.query(sql, params), accounts, at);
  }

  async markEnabled(email: string): Promise<void> {
    await this.db.query('DELETE FROM disabled_accounts WHERE email = $1', [email.toLowerCase()]);
  }

  /** Makes the view exactly `accounts` (auth's full answer): the ones enabled meanwhile go, the others are recorded. */
  async replaceAll(accounts: readonly DisabledAccount[], at: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM disabled_accounts WHERE NOT (email = ANY($1::text[]))', [accounts.map((a) => a.email.toLowerCase())]);
      await upsert((sql, params) => tx.query(sql, params), accounts, at);
    });
  }
}

async function upsert(
  query: (sql: string, params: unknown[]) => Promise<unknown>,
  accounts: readonly DisabledAccount[],
  at: Date,
): Promise<void> {
  if (accounts.length === 0) return;
  await query(
    `INSERT INTO disabled_accounts (email, disabled_at, recorded_at)
     SELECT email, disabled_at, $3 FROM unnest($1::text[], $2::timestamptz[]) AS a(email, disabled_at)
     ON CONFLICT (email) DO UPDATE SET disabled_at = EXCLUDED.disabled_at, recorded_at = EXCLUDED.recorded_at
       WHERE disabled_accounts.disabled_at IS DISTINCT FROM EXCLUDED.disabled_at`,
    [accounts.map((a) => a.email.toLowerCase()), accounts.map((a) => a.disabledAt), at],
  );
}
