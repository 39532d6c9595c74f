/**
 * The engines behind RDS DB instances: a PostgreSQL cluster per instance under
 * `<home>/rds/<identifier>`, started inside the instance's namespace, with the master user and
 * database as CreateDBInstance asked. New clusters are copies of one initdb'd template (a copy
 * takes a fraction of initdb's time), so a DB is usually `available` by the first describe.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  PostgresCluster,
  sqlIdentifier,
  sqlLiteral,
} from '../../../adapters/postgres/postgres-cluster.js';
import type { DbInstanceRow } from '../state/rds-store.js';

/** Idempotent: creates what is missing, and (re)sets the master password. */
function bootstrapSql(row: DbInstanceRow): string {
  const user = row.masterUsername;
  const lines = [
    `SELECT format('CREATE ROLE %I LOGIN', ${sqlLiteral(user)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${sqlLiteral(user)})\\gexec`,
    `ALTER ROLE ${sqlIdentifier(user)} WITH LOGIN CREATEDB CREATEROLE PASSWORD ${sqlLiteral(row.masterPassword)};`,
  ];
  if (row.dbName) {
    lines.push(
      `SELECT format('CREATE DATABASE %I OWNER %I', ${sqlLiteral(row.dbName)}, ${sqlLiteral(user)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${sqlLiteral(row.dbName)})\\gexec`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export class DatabaseHosts {
  #template: Promise<PostgresCluster> | undefined;
  /** The password last set per DB by this process (a restart sets it once more). */
  readonly #passwords = new Map<string, string>();

  constructor(readonly directory: string) {}

  clusterOf(identifier: string): PostgresCluster {
    return new PostgresCluster(join(this.directory, identifier));
  }

  #templateCluster(): Promise<PostgresCluster> {
    this.#template ??= (async () => {
      mkdirSync(this.directory, { recursive: true, mode: 0o755 });
      const template = new PostgresCluster(join(this.directory, '.template'));
      if (!template.isInitialized()) await template.initialize();
      return template;
    })().catch((error: unknown) => {
      this.#template = undefined;
      throw error;
    });
    return this.#template;
  }

  /** Prepares the template ahead of the first CreateDBInstance (errors wait for that call). */
  warmUp(): void {
    this.#templateCluster().catch(() => undefined);
  }

  /** True when a DB's engine is behind its state: not running, rebooting, a new password. */
  needsWork(row: DbInstanceRow): boolean {
    return (
      row.status !== 'available' ||
      this.#passwords.get(row.identifier) !== row.masterPassword ||
      this.clusterOf(row.identifier).runningPid() === undefined
    );
  }

  /** Brings a DB to its state: data, a running server (restarted when rebooting), its users. */
  async ensure(row: DbInstanceRow, namespace: string): Promise<void> {
    const cluster = this.clusterOf(row.identifier);
    if (!cluster.isInitialized()) await cluster.initialize(await this.#templateCluster());
    if (row.status === 'rebooting') await cluster.stop();
    await cluster.start(namespace, row.port);
    if (this.#passwords.get(row.identifier) !== row.masterPassword) {
      await cluster.sql(bootstrapSql(row), row.port);
      this.#passwords.set(row.identifier, row.masterPassword);
    }
  }

  /** Stops a DB's server and deletes its data (DeleteDBInstance). */
  async destroy(identifier: string): Promise<void> {
    await this.clusterOf(identifier).destroy();
    this.#passwords.delete(identifier);
  }
}
