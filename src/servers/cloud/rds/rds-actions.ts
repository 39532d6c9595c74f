/**
 * RDS over the query protocol: DB subnet groups and PostgreSQL DB instances. A DB instance is a
 * requester-managed network interface (carrying its VPC security groups) in one of its subnet
 * group's subnets; the compute plane gives it a namespace and a real PostgreSQL and moves it
 * from `creating` to `available`. Identifiers are kept in lower case, as RDS keeps them.
 */
import { AwsServiceError, Ec2RequestError } from '../../../core/errors.js';
import type { Ec2Context, QueryHandler } from '../ec2/ec2-context.js';
import { defaultGroupOf, insertInterface, interfaceGroups } from '../ec2/interface-records.js';
import { existingSubnet } from '../ec2/vpcs.js';
import type { QueryParams } from '../query/query-params.js';
import { xmlList, type QueryValue } from '../query/query-xml.js';
import type { DbInstanceRow, DbSubnetGroupRow } from '../state/rds-store.js';

/** The PostgreSQL major version the sandbox runs (Debian 12's). */
export const postgresMajorVersion = '15';
const hostedZoneId = 'Z1PVIF0B656C1W';

function required(params: QueryParams, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') {
    throw new AwsServiceError('MissingParameter', `The request must contain the parameter ${name}`);
  }
  return value;
}

function invalid(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

/** `Name.Member.N`, with `Name=` meaning an empty list (as the clients send one). */
function memberList(params: QueryParams, name: string, member: string): string[] {
  return params.list(`${name}.${member}`);
}

function existingSubnetGroup(context: Ec2Context, name: string): DbSubnetGroupRow {
  const group = context.store.rds.subnetGroup(name.toLowerCase());
  if (!group) {
    throw new AwsServiceError(
      'DBSubnetGroupNotFoundFault',
      `DB subnet group '${name}' not found.`,
      404,
    );
  }
  return group;
}

function existingInstance(context: Ec2Context, identifier: string): DbInstanceRow {
  const row = context.store.rds.instance(identifier.toLowerCase());
  if (!row) {
    throw new AwsServiceError('DBInstanceNotFound', `DBInstance ${identifier} not found.`, 404);
  }
  return row;
}

function subnetGroupXml(context: Ec2Context, group: DbSubnetGroupRow): QueryValue {
  return {
    DBSubnetGroupName: group.name,
    DBSubnetGroupDescription: group.description,
    VpcId: group.vpcId,
    SubnetGroupStatus: 'Complete',
    Subnets: xmlList(
      'Subnet',
      group.subnetIds.map((subnetId) => ({
        SubnetIdentifier: subnetId,
        SubnetAvailabilityZone: {
          Name: existingSubnet(context.store, subnetId).availabilityZone,
        },
        SubnetOutpost: {},
        SubnetStatus: 'Active',
      })),
    ),
    DBSubnetGroupArn: `arn:aws:rds:${context.region}:${context.accountId}:subgrp:${group.name}`,
    SupportedNetworkTypes: xmlList('member', ['IPV4']),
  };
}

function instanceXml(context: Ec2Context, row: DbInstanceRow): QueryValue {
  const groups = row.networkInterfaceId
    ? context.store.compute.groupsOf(row.networkInterfaceId)
    : [];
  const created = row.status !== 'creating';
  return {
    DBInstanceIdentifier: row.identifier,
    DBInstanceClass: row.dbInstanceClass,
    Engine: row.engine,
    DBInstanceStatus: row.status,
    MasterUsername: row.masterUsername,
    DBName: row.dbName,
    // RDS has no endpoint while an instance is being created.
    Endpoint: created
      ? { Address: row.endpointAddress, Port: row.port, HostedZoneId: hostedZoneId }
      : undefined,
    AllocatedStorage: row.allocatedStorage,
    InstanceCreateTime: created ? row.createdAt : undefined,
    PreferredBackupWindow: '09:34-10:04',
    BackupRetentionPeriod: row.backupRetentionPeriod,
    DBSecurityGroups: xmlList('DBSecurityGroup', []),
    VpcSecurityGroups: xmlList(
      'VpcSecurityGroupMembership',
      groups.map((groupId) => ({ VpcSecurityGroupId: groupId, Status: 'active' })),
    ),
    DBParameterGroups: xmlList('DBParameterGroup', [
      {
        DBParameterGroupName: `default.postgres${postgresMajorVersion}`,
        ParameterApplyStatus: 'in-sync',
      },
    ]),
    AvailabilityZone: row.availabilityZone,
    DBSubnetGroup: subnetGroupXml(context, existingSubnetGroup(context, row.subnetGroupName)),
    PreferredMaintenanceWindow: 'sun:10:30-sun:11:00',
    PendingModifiedValues: {},
    MultiAZ: false,
    EngineVersion: row.engineVersion,
    AutoMinorVersionUpgrade: true,
    ReadReplicaDBInstanceIdentifiers: xmlList('ReadReplicaDBInstanceIdentifier', []),
    LicenseModel: 'postgresql-license',
    OptionGroupMemberships: xmlList('OptionGroupMembership', [
      { OptionGroupName: `default:postgres-${postgresMajorVersion}`, Status: 'in-sync' },
    ]),
    PubliclyAccessible: row.publiclyAccessible,
    StorageType: row.storageType,
    DbInstancePort: 0,
    StorageEncrypted: false,
    DbiResourceId: row.resourceId,
    CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    CopyTagsToSnapshot: false,
    DBInstanceArn: `arn:aws:rds:${context.region}:${context.accountId}:db:${row.identifier}`,
    IAMDatabaseAuthenticationEnabled: false,
    PerformanceInsightsEnabled: false,
    DeletionProtection: false,
    TagList: xmlList('Tag', []),
    NetworkType: 'IPV4',
  };
}

const identifierPattern = /^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$/;

function checkIdentifier(identifier: string): string {
  const lower = identifier.toLowerCase();
  if (!identifierPattern.test(lower)) {
    throw invalid(
      'The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.',
    );
  }
  return lower;
}

function checkPassword(password: string): string {
  if (password.length < 8) {
    throw invalid(
      'The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.',
    );
  }
  if (password.length > 128 || /[^\x21-\x7e]|[/@"]/.test(password)) {
    throw invalid(
      "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.",
    );
  }
  return password;
}

function checkUsername(username: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(username) || /^(postgres|rdsadmin)$/i.test(username)) {
    throw invalid(
      `MasterUsername ${username} cannot be used as it is a reserved word used by the engine`,
    );
  }
  return username;
}

function integerParam(params: QueryParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw invalid(`Invalid value ${value} for ${name}`);
  return Number(value);
}

function booleanParam(params: QueryParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw invalid(`Invalid value ${value} for ${name}`);
  return value === 'true';
}

function checkStorage(allocated: number): number {
  if (allocated < 20 || allocated > 65536) {
    throw invalid(
      `Invalid storage size for engine name postgres and storage type gp2: ${allocated}`,
    );
  }
  return allocated;
}

function checkRetention(days: number): number {
  if (days > 35) throw invalid(`Invalid backup retention period: ${days}. Must be 0 to 35.`);
  return days;
}

/** The RDS VPC security groups: must exist in the subnet group's VPC; none = its default. */
function vpcSecurityGroups(
  context: Ec2Context,
  ids: readonly string[],
  group: DbSubnetGroupRow,
): string[] {
  const subnetId = group.subnetIds[0] ?? '';
  if (ids.length === 0) return [defaultGroupOf(context.store, group.vpcId)];
  try {
    return interfaceGroups(context.store, group.vpcId, subnetId, ids);
  } catch (error) {
    if (error instanceof Ec2RequestError) {
      throw invalid(`Invalid security group, groupId= ${ids.join(', ')}: ${error.message}`);
    }
    throw error;
  }
}

/** RDS's random part of endpoint names: one per account and region. */
function endpointIdOf(context: Ec2Context): string {
  const existing = context.store.meta('rdsEndpointId');
  if (existing) return existing;
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const id = Array.from(context.randomBytes(12), (byte) => alphabet[byte % 36]).join('');
  context.store.setMeta('rdsEndpointId', id);
  return id;
}

function createDbSubnetGroup(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const name = required(params, 'DBSubnetGroupName').toLowerCase();
  const description = required(params, 'DBSubnetGroupDescription');
  const subnetIds = [...new Set(memberList(params, 'SubnetIds', 'SubnetIdentifier'))];
  if (context.store.rds.subnetGroup(name)) {
    throw new AwsServiceError(
      'DBSubnetGroupAlreadyExists',
      `The DB subnet group '${name}' already exists.`,
    );
  }
  if (subnetIds.length === 0) {
    throw new AwsServiceError(
      'MissingParameter',
      'The request must contain the parameter SubnetIds',
    );
  }
  const subnets = subnetIds.map((id) => {
    try {
      return existingSubnet(context.store, id);
    } catch {
      throw new AwsServiceError('InvalidSubnet', `Some input subnets in :[${id}] are invalid.`);
    }
  });
  const vpcs = new Set(subnets.map((subnet) => subnet.vpcId));
  if (vpcs.size > 1) {
    throw new AwsServiceError(
      'InvalidSubnet',
      'Subnets in a DB subnet group must all be in the same VPC.',
    );
  }
  const zones = [...new Set(subnets.map((subnet) => subnet.availabilityZone))];
  if (zones.length < 2) {
    throw new AwsServiceError(
      'DBSubnetGroupDoesNotCoverEnoughAZs',
      `The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. Current AZ coverage: ${zones.join(', ')}. Add subnets to cover at least 2 AZs.`,
    );
  }
  const row: DbSubnetGroupRow = {
    name,
    description,
    vpcId: subnets[0]?.vpcId ?? '',
    subnetIds,
  };
  context.store.rds.insertSubnetGroup(row);
  return { DBSubnetGroup: subnetGroupXml(context, row) };
}

function describeDbSubnetGroups(
  params: QueryParams,
  context: Ec2Context,
): Record<string, QueryValue> {
  const name = params.get('DBSubnetGroupName');
  const groups = name ? [existingSubnetGroup(context, name)] : context.store.rds.subnetGroups();
  return {
    DBSubnetGroups: xmlList(
      'DBSubnetGroup',
      groups.map((group) => subnetGroupXml(context, group)),
    ),
  };
}

function deleteDbSubnetGroup(params: QueryParams, context: Ec2Context): undefined {
  const group = existingSubnetGroup(context, required(params, 'DBSubnetGroupName'));
  const user = context.store.rds
    .instances()
    .find((instance) => instance.subnetGroupName === group.name);
  if (user) {
    throw new AwsServiceError(
      'InvalidDBSubnetGroupStateFault',
      `Cannot delete the subnet group '${group.name}' because at least one database instance: ${user.identifier} is still using it.`,
    );
  }
  context.store.rds.deleteSubnetGroup(group.name);
  return undefined;
}

/** Class, engine and version: only PostgreSQL of the installed major version is served. */
function checkedEngine(params: QueryParams): {
  dbInstanceClass: string;
  engine: string;
  engineVersion: string;
} {
  const dbInstanceClass = required(params, 'DBInstanceClass');
  if (!/^db\.[a-z0-9]+\.[a-z0-9]+$/.test(dbInstanceClass)) {
    throw invalid(`Invalid DB Instance class: ${dbInstanceClass}`);
  }
  const engine = required(params, 'Engine');
  if (engine !== 'postgres') {
    throw invalid(`Invalid DB engine: ${engine} (this cloud runs PostgreSQL only)`);
  }
  const engineVersion = params.get('EngineVersion') ?? postgresMajorVersion;
  if (engineVersion.split('.')[0] !== postgresMajorVersion) {
    throw invalid(`Cannot find version ${engineVersion} for postgres`);
  }
  return { dbInstanceClass, engine, engineVersion };
}

function createDbInstance(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const identifier = checkIdentifier(required(params, 'DBInstanceIdentifier'));
  const { dbInstanceClass, engine, engineVersion } = checkedEngine(params);
  const masterUsername = checkUsername(required(params, 'MasterUsername'));
  const masterPassword = checkPassword(required(params, 'MasterUserPassword'));
  const dbName = params.get('DBName');
  if (dbName !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(dbName)) {
    throw invalid(`The parameter DBName is not a valid identifier: ${dbName}`);
  }
  const allocatedStorage = checkStorage(integerParam(params, 'AllocatedStorage') ?? 20);
  const backupRetentionPeriod = checkRetention(integerParam(params, 'BackupRetentionPeriod') ?? 1);
  const port = integerParam(params, 'Port') ?? 5432;
  if (port < 1150 || port > 65535) throw invalid(`Invalid port ${port}: must be 1150 to 65535`);
  if (context.store.rds.instance(identifier)) {
    throw new AwsServiceError('DBInstanceAlreadyExists', 'DB instance already exists');
  }
  const subnetGroup = existingSubnetGroup(context, params.get('DBSubnetGroupName') ?? 'default');
  const groupIds = vpcSecurityGroups(
    context,
    memberList(params, 'VpcSecurityGroupIds', 'VpcSecurityGroupId'),
    subnetGroup,
  );
  const zone = params.get('AvailabilityZone');
  const subnet =
    subnetGroup.subnetIds
      .map((id) => existingSubnet(context.store, id))
      .find((candidate) => zone === undefined || candidate.availabilityZone === zone) ??
    (() => {
      throw invalid(`No subnet of DB subnet group ${subnetGroup.name} is in ${zone ?? ''}`);
    })();
  const eni = insertInterface(context, {
    subnet,
    description: 'RDSNetworkInterface',
    groupIds,
    interfaceType: 'interface',
    privateIps: [],
    secondaryCount: 0,
    requesterManaged: true,
  });
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const row: DbInstanceRow = {
    identifier,
    resourceId: `db-${Array.from(context.randomBytes(26), (byte) => alphabet[byte % 32]).join('')}`,
    dbInstanceClass,
    engine,
    engineVersion,
    status: 'creating',
    masterUsername,
    masterPassword,
    dbName,
    allocatedStorage,
    backupRetentionPeriod,
    publiclyAccessible: booleanParam(params, 'PubliclyAccessible') ?? false,
    subnetGroupName: subnetGroup.name,
    networkInterfaceId: eni.networkInterfaceId,
    endpointAddress: `${identifier}.${endpointIdOf(context)}.${context.region}.rds.amazonaws.com`,
    port,
    availabilityZone: subnet.availabilityZone,
    storageType: params.get('StorageType') ?? 'gp2',
    createdAt: context.now(),
  };
  context.store.rds.insertInstance(row);
  context.changes.computeChanged('background');
  return { DBInstance: instanceXml(context, row) };
}

function describeDbInstances(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const identifier = params.get('DBInstanceIdentifier');
  let rows = identifier ? [existingInstance(context, identifier)] : context.store.rds.instances();
  for (let index = 1; ; index++) {
    const name = params.get(`Filters.Filter.${index}.Name`);
    if (name === undefined) break;
    const values = params.list(`Filters.Filter.${index}.Values.Value`);
    const field: Record<string, (row: DbInstanceRow) => string> = {
      'db-instance-id': (row) => row.identifier,
      'dbi-resource-id': (row) => row.resourceId,
      engine: (row) => row.engine,
    };
    const read = field[name];
    if (!read) throw invalid(`Unrecognized filter name: ${name}`);
    rows = rows.filter((row) => values.includes(read(row)));
  }
  return {
    DBInstances: xmlList(
      'DBInstance',
      rows.map((row) => instanceXml(context, row)),
    ),
  };
}

function requireAvailable(row: DbInstanceRow): void {
  if (row.status !== 'available') {
    throw new AwsServiceError(
      'InvalidDBInstanceState',
      `Database instance is not in available state.`,
    );
  }
}

function modifyDbInstance(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const row = existingInstance(context, required(params, 'DBInstanceIdentifier'));
  requireAvailable(row);
  const groupIds = memberList(params, 'VpcSecurityGroupIds', 'VpcSecurityGroupId');
  if (params.has('VpcSecurityGroupIds') && row.networkInterfaceId) {
    const group = existingSubnetGroup(context, row.subnetGroupName);
    context.store.compute.setGroups(
      row.networkInterfaceId,
      vpcSecurityGroups(context, groupIds, group),
    );
  }
  const password = params.get('MasterUserPassword');
  const storage = integerParam(params, 'AllocatedStorage');
  const retention = integerParam(params, 'BackupRetentionPeriod');
  const updated: DbInstanceRow = {
    ...row,
    masterPassword: password === undefined ? row.masterPassword : checkPassword(password),
    dbInstanceClass: params.get('DBInstanceClass') ?? row.dbInstanceClass,
    allocatedStorage: storage === undefined ? row.allocatedStorage : checkStorage(storage),
    backupRetentionPeriod:
      retention === undefined ? row.backupRetentionPeriod : checkRetention(retention),
    publiclyAccessible: booleanParam(params, 'PubliclyAccessible') ?? row.publiclyAccessible,
  };
  context.store.rds.updateInstance(updated);
  context.changes.computeChanged('live');
  return { DBInstance: instanceXml(context, updated) };
}

function deleteDbInstance(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const row = existingInstance(context, required(params, 'DBInstanceIdentifier'));
  const skip = booleanParam(params, 'SkipFinalSnapshot') ?? false;
  const finalSnapshot = params.get('FinalDBSnapshotIdentifier');
  if (skip && finalSnapshot !== undefined) {
    throw new AwsServiceError(
      'InvalidParameterCombination',
      'Cannot both specify a final snapshot identifier and specify to skip final snapshot',
    );
  }
  if (!skip && finalSnapshot === undefined) {
    throw new AwsServiceError(
      'InvalidParameterCombination',
      'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
    );
  }
  if (row.status === 'deleting') {
    throw new AwsServiceError(
      'InvalidDBInstanceState',
      `Instance ${row.identifier} is already being deleted.`,
    );
  }
  context.store.rds.setStatus(row.identifier, row.status, 'deleting');
  context.changes.computeChanged('background');
  return { DBInstance: instanceXml(context, { ...row, status: 'deleting' }) };
}

function rebootDbInstance(params: QueryParams, context: Ec2Context): Record<string, QueryValue> {
  const row = existingInstance(context, required(params, 'DBInstanceIdentifier'));
  requireAvailable(row);
  context.store.rds.setStatus(row.identifier, 'available', 'rebooting');
  context.changes.computeChanged('background');
  return { DBInstance: instanceXml(context, { ...row, status: 'rebooting' }) };
}

export const rdsActions: Readonly<Record<string, QueryHandler>> = {
  CreateDBSubnetGroup: createDbSubnetGroup,
  DescribeDBSubnetGroups: describeDbSubnetGroups,
  DeleteDBSubnetGroup: deleteDbSubnetGroup,
  CreateDBInstance: createDbInstance,
  DescribeDBInstances: describeDbInstances,
  ModifyDBInstance: modifyDbInstance,
  DeleteDBInstance: deleteDbInstance,
  RebootDBInstance: rebootDbInstance,
};
