/** Typed access to the RDS tables: DB subnet groups (with their subnets) and DB instances. */
import type { CloudDatabase } from './cloud-database.js';

export interface DbSubnetGroupRow {
  readonly name: string;
  readonly description: string;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
}

export type DbInstanceStatus =
  'creating' | 'backing-up' | 'available' | 'modifying' | 'rebooting' | 'deleting' | 'failed';

export interface DbInstanceRow {
  /** Lower case, as RDS stores it. */
  readonly identifier: string;
  readonly resourceId: string;
  readonly dbInstanceClass: string;
  readonly engine: string;
  readonly engineVersion: string;
  readonly status: DbInstanceStatus;
  readonly masterUsername: string;
  readonly masterPassword: string;
  readonly dbName?: string | undefined;
  readonly allocatedStorage: number;
  readonly backupRetentionPeriod: number;
  readonly publiclyAccessible: boolean;
  readonly subnetGroupName: string;
  readonly networkInterfaceId?: string | undefined;
  /** `<id>.<random>.<region>.rds.amazonaws.com`. */
  readonly endpointAddress: string;
  readonly port: number;
  readonly availabilityZone: string;
  readonly storageType: string;
  readonly createdAt: string;
}

type Raw = Record<string, unknown>;
const text = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const optionalText = (value: unknown): string | undefined =>
  value === null || value === undefined ? undefined : text(value);

function instanceOf(raw: Raw): DbInstanceRow {
  return {
    identifier: text(raw.identifier),
    resourceId: text(raw.resource_id),
    dbInstanceClass: text(raw.db_instance_class),
    engine: text(raw.engine),
    engineVersion: text(raw.engine_version),
    status: text(raw.status) as DbInstanceStatus,
    masterUsername: text(raw.master_username),
    masterPassword: text(raw.master_password),
    dbName: optionalText(raw.db_name),
    allocatedStorage: Number(raw.allocated_storage),
    backupRetentionPeriod: Number(raw.backup_retention_period),
    publiclyAccessible: raw.publicly_accessible === 1,
    subnetGroupName: text(raw.subnet_group_name),
    networkInterfaceId: optionalText(raw.network_interface_id),
    endpointAddress: text(raw.endpoint_address),
    port: Number(raw.port),
    availabilityZone: text(raw.availability_zone),
    storageType: text(raw.storage_type),
    createdAt: text(raw.created_at),
  };
}

export class RdsStore {
  readonly #statements;

  constructor(
    database: CloudDatabase,
    private readonly nextSeq: (name: string) => number,
  ) {
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      subnetGroups: prepare('SELECT * FROM db_subnet_groups ORDER BY seq'),
      subnetGroup: prepare('SELECT * FROM db_subnet_groups WHERE name = ?'),
      subnetsOf: prepare(
        'SELECT subnet_id FROM db_subnet_group_subnets WHERE name = ? ORDER BY position',
      ),
      insertSubnetGroup: prepare(
        'INSERT INTO db_subnet_groups (name, description, vpc_id, seq) VALUES (?, ?, ?, ?)',
      ),
      insertSubnet: prepare(
        'INSERT INTO db_subnet_group_subnets (name, subnet_id, position) VALUES (?, ?, ?)',
      ),
      deleteSubnetGroup: prepare('DELETE FROM db_subnet_groups WHERE name = ?'),
      instances: prepare('SELECT * FROM db_instances ORDER BY seq'),
      instance: prepare('SELECT * FROM db_instances WHERE identifier = ?'),
      instancesIn: prepare('SELECT count(*) AS n FROM db_instances WHERE subnet_group_name = ?'),
      insertInstance: prepare(
        `INSERT INTO db_instances (identifier, resource_id, db_instance_class, engine,
           engine_version, status, master_username, master_password, db_name, allocated_storage,
           backup_retention_period, publicly_accessible, subnet_group_name, network_interface_id,
           endpoint_address, port, availability_zone, storage_type, created_at, seq)
         VALUES (@identifier, @resourceId, @dbInstanceClass, @engine, @engineVersion, @status,
           @masterUsername, @masterPassword, @dbName, @allocatedStorage, @backupRetentionPeriod,
           @publiclyAccessible, @subnetGroupName, @networkInterfaceId, @endpointAddress, @port,
           @availabilityZone, @storageType, @createdAt, @seq)`,
      ),
      update: prepare(
        `UPDATE db_instances SET status = @status, master_password = @masterPassword,
           db_instance_class = @dbInstanceClass, allocated_storage = @allocatedStorage,
           backup_retention_period = @backupRetentionPeriod,
           publicly_accessible = @publiclyAccessible
         WHERE identifier = @identifier`,
      ),
      setStatus: prepare('UPDATE db_instances SET status = ? WHERE identifier = ? AND status = ?'),
      deleteInstance: prepare('DELETE FROM db_instances WHERE identifier = ?'),
    } as const;
  }

  subnetGroups(): DbSubnetGroupRow[] {
    return (this.#statements.subnetGroups.all() as Raw[]).map((raw) => this.#groupOf(raw));
  }

  subnetGroup(name: string): DbSubnetGroupRow | undefined {
    const raw = this.#statements.subnetGroup.get(name) as Raw | undefined;
    return raw ? this.#groupOf(raw) : undefined;
  }

  #groupOf(raw: Raw): DbSubnetGroupRow {
    const name = text(raw.name);
    return {
      name,
      description: text(raw.description),
      vpcId: text(raw.vpc_id),
      subnetIds: (this.#statements.subnetsOf.all(name) as Raw[]).map((row) => text(row.subnet_id)),
    };
  }

  insertSubnetGroup(row: DbSubnetGroupRow): void {
    this.#statements.insertSubnetGroup.run(
      row.name,
      row.description,
      row.vpcId,
      this.nextSeq('db-subnet-group'),
    );
    row.subnetIds.forEach((subnetId, position) =>
      this.#statements.insertSubnet.run(row.name, subnetId, position),
    );
  }

  deleteSubnetGroup(name: string): void {
    this.#statements.deleteSubnetGroup.run(name);
  }

  instancesInSubnetGroup(name: string): number {
    return Number((this.#statements.instancesIn.get(name) as Raw).n);
  }

  instances(): DbInstanceRow[] {
    return (this.#statements.instances.all() as Raw[]).map(instanceOf);
  }

  instance(identifier: string): DbInstanceRow | undefined {
    const raw = this.#statements.instance.get(identifier) as Raw | undefined;
    return raw ? instanceOf(raw) : undefined;
  }

  insertInstance(row: DbInstanceRow): void {
    this.#statements.insertInstance.run({
      ...row,
      dbName: row.dbName ?? null,
      networkInterfaceId: row.networkInterfaceId ?? null,
      publiclyAccessible: row.publiclyAccessible ? 1 : 0,
      seq: this.nextSeq('db-instance'),
    });
  }

  updateInstance(row: DbInstanceRow): void {
    this.#statements.update.run({
      identifier: row.identifier,
      status: row.status,
      masterPassword: row.masterPassword,
      dbInstanceClass: row.dbInstanceClass,
      allocatedStorage: row.allocatedStorage,
      backupRetentionPeriod: row.backupRetentionPeriod,
      publiclyAccessible: row.publiclyAccessible ? 1 : 0,
    });
  }

  /** Moves an instance from `from` to `status`; false when it was not in `from` any more. */
  setStatus(identifier: string, from: DbInstanceStatus, status: DbInstanceStatus): boolean {
    return this.#statements.setStatus.run(status, identifier, from).changes > 0;
  }

  deleteInstance(identifier: string): void {
    this.#statements.deleteInstance.run(identifier);
  }
}
