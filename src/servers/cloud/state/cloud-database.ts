/**
 * The cloud's state: one SQLite file per home (better-sqlite3, WAL). Every API call that changes
 * something is one transaction; a response is sent only after its commit, so `kill -9` at any
 * point loses no acknowledged change (WAL with synchronous=NORMAL survives a process crash; only an
 * OS crash could lose the last commits, which a sandbox does not need to survive).
 */
import Database from 'better-sqlite3';

export type CloudDatabase = Database.Database;

/** Schema versions, applied in order; `PRAGMA user_version` records how far a file has come. */
const migrations: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE vpcs (
    vpc_id TEXT PRIMARY KEY, cidr_block TEXT NOT NULL, association_id TEXT NOT NULL,
    dhcp_options_id TEXT NOT NULL, is_default INTEGER NOT NULL, owner_id TEXT NOT NULL,
    seq INTEGER NOT NULL
  );
  CREATE TABLE subnets (
    subnet_id TEXT PRIMARY KEY, vpc_id TEXT NOT NULL REFERENCES vpcs(vpc_id),
    cidr_block TEXT NOT NULL, availability_zone TEXT NOT NULL, availability_zone_id TEXT NOT NULL,
    map_public_ip_on_launch INTEGER NOT NULL, owner_id TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE security_groups (
    group_id TEXT PRIMARY KEY, vpc_id TEXT NOT NULL REFERENCES vpcs(vpc_id),
    group_name TEXT NOT NULL, description TEXT NOT NULL, owner_id TEXT NOT NULL,
    seq INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX security_groups_name ON security_groups (vpc_id, lower(group_name));
  CREATE TABLE security_group_rules (
    rule_id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES security_groups(group_id) ON DELETE CASCADE,
    is_egress INTEGER NOT NULL, ip_protocol TEXT NOT NULL,
    from_port INTEGER NOT NULL, to_port INTEGER NOT NULL,
    cidr_ipv4 TEXT, cidr_ipv6 TEXT, prefix_list_id TEXT, referenced_group_id TEXT,
    description TEXT, rule_key TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX security_group_rules_key ON security_group_rules (rule_key);
  CREATE INDEX security_group_rules_group ON security_group_rules (group_id, seq);
  CREATE INDEX security_group_rules_reference ON security_group_rules (referenced_group_id);
  CREATE TABLE tags (
    resource_id TEXT NOT NULL, resource_type TEXT NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (resource_id, key)
  );
  CREATE TABLE prefix_lists (
    prefix_list_id TEXT PRIMARY KEY, prefix_list_name TEXT NOT NULL, address_family TEXT NOT NULL,
    max_entries INTEGER NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
    owner_id TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE prefix_list_entries (
    prefix_list_id TEXT NOT NULL REFERENCES prefix_lists(prefix_list_id) ON DELETE CASCADE,
    cidr TEXT NOT NULL, description TEXT, PRIMARY KEY (prefix_list_id, cidr)
  );
  CREATE TABLE faults (
    fault_id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, error_code TEXT,
    message TEXT NOT NULL, http_status INTEGER NOT NULL, remaining INTEGER,
    latency_ms INTEGER NOT NULL
  );
  CREATE TABLE sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  `,
  `
  CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY, reservation_id TEXT NOT NULL, image_id TEXT NOT NULL,
    instance_type TEXT NOT NULL, subnet_id TEXT NOT NULL REFERENCES subnets(subnet_id),
    vpc_id TEXT NOT NULL, availability_zone TEXT NOT NULL, state TEXT NOT NULL,
    state_reason TEXT, state_changed_at TEXT NOT NULL, launch_time TEXT NOT NULL,
    ami_launch_index INTEGER NOT NULL, key_name TEXT, client_token TEXT,
    iam_instance_profile_arn TEXT, seq INTEGER NOT NULL
  );
  CREATE INDEX instances_client_token ON instances (client_token);
  CREATE TABLE network_interfaces (
    network_interface_id TEXT PRIMARY KEY, subnet_id TEXT NOT NULL REFERENCES subnets(subnet_id),
    vpc_id TEXT NOT NULL, availability_zone TEXT NOT NULL, description TEXT NOT NULL,
    interface_type TEXT NOT NULL, mac_address TEXT NOT NULL UNIQUE,
    source_dest_check INTEGER NOT NULL, requester_managed INTEGER NOT NULL,
    owner_id TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE network_interface_groups (
    network_interface_id TEXT NOT NULL
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES security_groups(group_id),
    position INTEGER NOT NULL, PRIMARY KEY (network_interface_id, group_id)
  );
  CREATE INDEX network_interface_groups_group ON network_interface_groups (group_id);
  CREATE TABLE private_addresses (
    vpc_id TEXT NOT NULL, address TEXT NOT NULL,
    network_interface_id TEXT NOT NULL
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    is_primary INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (vpc_id, address)
  );
  CREATE INDEX private_addresses_interface ON private_addresses (network_interface_id, seq);
  CREATE TABLE attachments (
    attachment_id TEXT PRIMARY KEY,
    network_interface_id TEXT NOT NULL UNIQUE
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL REFERENCES instances(instance_id),
    device_index INTEGER NOT NULL, network_card_index INTEGER NOT NULL,
    delete_on_termination INTEGER NOT NULL, attach_time TEXT NOT NULL,
    UNIQUE (instance_id, network_card_index, device_index)
  );
  CREATE TABLE trunk_associations (
    association_id TEXT PRIMARY KEY,
    branch_interface_id TEXT NOT NULL UNIQUE
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    trunk_interface_id TEXT NOT NULL
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    vlan_id INTEGER NOT NULL, gre_key INTEGER, seq INTEGER NOT NULL,
    UNIQUE (trunk_interface_id, vlan_id)
  );
  CREATE TABLE network_interface_permissions (
    permission_id TEXT PRIMARY KEY,
    network_interface_id TEXT NOT NULL
      REFERENCES network_interfaces(network_interface_id) ON DELETE CASCADE,
    aws_account_id TEXT, aws_service TEXT, permission TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE client_tokens (
    action TEXT NOT NULL, client_token TEXT NOT NULL, response TEXT NOT NULL,
    PRIMARY KEY (action, client_token)
  );
  `,
  `
  CREATE TABLE iam_roles (
    role_name TEXT PRIMARY KEY COLLATE NOCASE, role_id TEXT NOT NULL, path TEXT NOT NULL,
    arn TEXT NOT NULL, assume_role_policy TEXT NOT NULL, description TEXT,
    created_at TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE iam_role_policies (
    role_name TEXT NOT NULL REFERENCES iam_roles(role_name) ON DELETE CASCADE,
    policy_arn TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (role_name, policy_arn)
  );
  CREATE TABLE db_subnet_groups (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, vpc_id TEXT NOT NULL, seq INTEGER NOT NULL
  );
  CREATE TABLE db_subnet_group_subnets (
    name TEXT NOT NULL REFERENCES db_subnet_groups(name) ON DELETE CASCADE,
    subnet_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (name, subnet_id)
  );
  CREATE TABLE db_instances (
    identifier TEXT PRIMARY KEY, resource_id TEXT NOT NULL, db_instance_class TEXT NOT NULL,
    engine TEXT NOT NULL, engine_version TEXT NOT NULL, status TEXT NOT NULL,
    master_username TEXT NOT NULL, master_password TEXT NOT NULL, db_name TEXT,
    allocated_storage INTEGER NOT NULL, backup_retention_period INTEGER NOT NULL,
    publicly_accessible INTEGER NOT NULL,
    subnet_group_name TEXT NOT NULL REFERENCES db_subnet_groups(name),
    network_interface_id TEXT, endpoint_address TEXT NOT NULL, port INTEGER NOT NULL,
    availability_zone TEXT NOT NULL, storage_type TEXT NOT NULL, created_at TEXT NOT NULL,
    seq INTEGER NOT NULL
  );
  `,
];

export function openCloudDatabase(path: string): CloudDatabase {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  migrate(database);
  return database;
}

function migrate(database: CloudDatabase): void {
  const version = database.pragma('user_version', { simple: true }) as number;
  for (let index = version; index < migrations.length; index++) {
    database.transaction(() => {
      database.exec(migrations[index] ?? '');
      database.pragma(`user_version = ${index + 1}`);
    })();
  }
}
