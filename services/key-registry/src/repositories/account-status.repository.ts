import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

const UNDEFINED_TABLE = '42P01';

const isUndefinedTable = (err: unknown) =>
  (err as { code?: string }).code === UNDEFINED_TABLE || (err as { driverError?: { code?: string } }).driverError?.code === UNDEFINED_TABLE;

/**
 * Whether the people who own keys may still use them: auth's accounts (the `users` table it keeps in
 * the same database). Without auth's table there are no accounts to disable, and every key's owner is active.
 */
@Injectable()
export class AccountStatusRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Whether the account with this e-mail address is disabled. */
  async isDisabled(email: string): Promise<boolean> {
    try {
      const rows = (await this.db.query('SELECT 1 FROM users WHERE email = $1 AND disabled_at IS NOT NULL', [
        email.toLowerCase(),
      ])) as unknown[];
      return rows.length > 0;
    } catch (err) {
      if (isUndefinedTable(err)) return false;
      throw err;
    }
  }

  /** Accounts disabled after `since`, with when. */
  async disabledSince(since: Date): Promise<{ email: string; disabledAt: Date }[]> {
    try {
      const rows = (await this.db.query('SELECT email, disabled_at FROM users WHERE disabled_at > $1', [since])) as {
        email: string;
        disabled_at: Date;
      }[];
      return rows.map((r) => ({ email: r.email, disabledAt: new Date(r.disabled_at) }));
    } catch (err) {
      if (isUndefinedTable(err)) return [];
      throw err;
    }
  }
}
