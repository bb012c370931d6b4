import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DEFAULT_DATABASE_URL } from '@maas/config';
import { withDatabase } from '@maas/database';

export interface TestDatabase {
  url: string;
  name: string;
  /** Runs one statement on its own connection and returns the rows: for assertions on what services stored. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** The server tests use: TEST_DATABASE_URL, else DATABASE_URL, else the local default. */
export function testServerUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
}

/** A fresh, empty database for one test file; `drop()` removes it (forcefully, ending leftover sessions). */
export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  const name = `maas_${label}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new Client({ connectionString: withDatabase(testServerUrl(), 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(testServerUrl(), name);
  return {
    url,
    name,
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as T[];
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = new Client({ connectionString: withDatabase(testServerUrl(), 'postgres') });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
