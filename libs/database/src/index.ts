import { DataSourceOptions } from 'typeorm';

export interface DatabaseDefinition {
  /** Entity classes of this service. */
  entities: Function[];
  /** Migration classes of this service, in order. */
  migrations: Function[];
}

/**
 * Options for a service's TypeORM data source. Each service owns its tables and its own migrations
 * table, so services migrate independently in one database; schema changes only through migrations.
 */
export function dataSourceOptions(service: string, url: string, db: DatabaseDefinition): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: db.entities,
    migrations: db.migrations,
    migrationsTableName: `migrations_${service.replace(/-/g, '_')}`,
    migrationsRun: true,
    synchronize: false,
    logging: false,
    extra: { max: 10, connectionTimeoutMillis: 5000 },
  };
}

/** The database name part of a postgres URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** The same server, another database (used to create or drop databases through `postgres`). */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}
