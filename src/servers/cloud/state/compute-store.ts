/**
 * Typed access to the compute tables: instances, network interfaces (with their groups, private
 * addresses, attachments, permissions) and trunk associations. Shares the EC2 store's
 * connection, so one call's changes to groups and interfaces commit together.
 */
import type { CloudDatabase } from './cloud-database.js';

export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** EC2's state codes (the low byte of `instanceState.code`). */
export const instanceStateCodes: Readonly<Record<InstanceState, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
};

export interface InstanceRow {
  readonly instanceId: string;
  readonly reservationId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly state: InstanceState;
  readonly stateReason?: string | undefined;
  readonly stateChangedAt: string;
  readonly launchTime: string;
  readonly amiLaunchIndex: number;
  readonly keyName?: string | undefined;
  readonly clientToken?: string | undefined;
  readonly iamInstanceProfileArn?: string | undefined;
}

/** `interface` (the default), or `trunk`; a branch is an `interface` associated with a trunk. */
export type InterfaceType = 'interface' | 'trunk' | 'efa' | 'branch';

export interface NetworkInterfaceRow {
  readonly networkInterfaceId: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly description: string;
  readonly interfaceType: InterfaceType;
  readonly macAddress: string;
  readonly sourceDestCheck: boolean;
  readonly requesterManaged: boolean;
  readonly ownerId: string;
}

export interface PrivateAddressRow {
  readonly networkInterfaceId: string;
  readonly address: string;
  readonly primary: boolean;
}

export interface AttachmentRow {
  readonly attachmentId: string;
  readonly networkInterfaceId: string;
  readonly instanceId: string;
  readonly deviceIndex: number;
  readonly networkCardIndex: number;
  readonly deleteOnTermination: boolean;
  readonly attachTime: string;
}

export interface TrunkAssociationRow {
  readonly associationId: string;
  readonly branchInterfaceId: string;
  readonly trunkInterfaceId: string;
  readonly vlanId: number;
  readonly greKey?: number | undefined;
}

export interface PermissionRow {
  readonly permissionId: string;
  readonly networkInterfaceId: string;
  readonly awsAccountId?: string | undefined;
  readonly awsService?: string | undefined;
  readonly permission: string;
}

type Raw = Record<string, unknown>;
const text = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const optionalText = (value: unknown): string | undefined =>
  value === null || value === undefined ? undefined : text(value);

function instanceOf(raw: Raw): InstanceRow {
  return {
    instanceId: text(raw.instance_id),
    reservationId: text(raw.reservation_id),
    imageId: text(raw.image_id),
    instanceType: text(raw.instance_type),
    subnetId: text(raw.subnet_id),
    vpcId: text(raw.vpc_id),
    availabilityZone: text(raw.availability_zone),
    state: text(raw.state) as InstanceState,
    stateReason: optionalText(raw.state_reason),
    stateChangedAt: text(raw.state_changed_at),
    launchTime: text(raw.launch_time),
    amiLaunchIndex: Number(raw.ami_launch_index),
    keyName: optionalText(raw.key_name),
    clientToken: optionalText(raw.client_token),
    iamInstanceProfileArn: optionalText(raw.iam_instance_profile_arn),
  };
}

function interfaceOf(raw: Raw): NetworkInterfaceRow {
  return {
    networkInterfaceId: text(raw.network_interface_id),
    subnetId: text(raw.subnet_id),
    vpcId: text(raw.vpc_id),
    availabilityZone: text(raw.availability_zone),
    description: text(raw.description),
    interfaceType: text(raw.interface_type) as InterfaceType,
    macAddress: text(raw.mac_address),
    sourceDestCheck: raw.source_dest_check === 1,
    requesterManaged: raw.requester_managed === 1,
    ownerId: text(raw.owner_id),
  };
}

function attachmentOf(raw: Raw): AttachmentRow {
  return {
    attachmentId: text(raw.attachment_id),
    networkInterfaceId: text(raw.network_interface_id),
    instanceId: text(raw.instance_id),
    deviceIndex: Number(raw.device_index),
    networkCardIndex: Number(raw.network_card_index),
    deleteOnTermination: raw.delete_on_termination === 1,
    attachTime: text(raw.attach_time),
  };
}

function associationOf(raw: Raw): TrunkAssociationRow {
  return {
    associationId: text(raw.association_id),
    branchInterfaceId: text(raw.branch_interface_id),
    trunkInterfaceId: text(raw.trunk_interface_id),
    vlanId: Number(raw.vlan_id),
    greKey: raw.gre_key === null ? undefined : Number(raw.gre_key),
  };
}

function addressOf(raw: Raw): PrivateAddressRow {
  return {
    networkInterfaceId: text(raw.network_interface_id),
    address: text(raw.address),
    primary: raw.is_primary === 1,
  };
}

function permissionOf(raw: Raw): PermissionRow {
  return {
    permissionId: text(raw.permission_id),
    networkInterfaceId: text(raw.network_interface_id),
    awsAccountId: optionalText(raw.aws_account_id),
    awsService: optionalText(raw.aws_service),
    permission: text(raw.permission),
  };
}

const flag = (value: boolean): number => (value ? 1 : 0);

export class ComputeStore {
  readonly #statements;

  constructor(
    database: CloudDatabase,
    private readonly nextSeq: (name: string) => number,
  ) {
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      instances: prepare('SELECT * FROM instances ORDER BY seq'),
      instance: prepare('SELECT * FROM instances WHERE instance_id = ?'),
      instanceCount: prepare("SELECT count(*) AS n FROM instances WHERE state <> 'terminated'"),
      insertInstance: prepare(
        `INSERT INTO instances (instance_id, reservation_id, image_id, instance_type, subnet_id,
           vpc_id, availability_zone, state, state_reason, state_changed_at, launch_time,
           ami_launch_index, key_name, client_token, iam_instance_profile_arn, seq)
         VALUES (@instanceId, @reservationId, @imageId, @instanceType, @subnetId, @vpcId,
           @availabilityZone, @state, @stateReason, @stateChangedAt, @launchTime, @amiLaunchIndex,
           @keyName, @clientToken, @iamInstanceProfileArn, @seq)`,
      ),
      setInstanceState: prepare(
        `UPDATE instances SET state = @state, state_reason = @stateReason,
           state_changed_at = @at WHERE instance_id = @instanceId AND state = @from`,
      ),
      deleteInstance: prepare('DELETE FROM instances WHERE instance_id = ?'),
      interfaces: prepare('SELECT * FROM network_interfaces ORDER BY seq'),
      interface: prepare('SELECT * FROM network_interfaces WHERE network_interface_id = ?'),
      macInUse: prepare('SELECT 1 FROM network_interfaces WHERE mac_address = ?'),
      insertInterface: prepare(
        `INSERT INTO network_interfaces (network_interface_id, subnet_id, vpc_id, availability_zone,
           description, interface_type, mac_address, source_dest_check, requester_managed,
           owner_id, seq)
         VALUES (@networkInterfaceId, @subnetId, @vpcId, @availabilityZone, @description,
           @interfaceType, @macAddress, @sourceDestCheck, @requesterManaged, @ownerId, @seq)`,
      ),
      updateInterface: prepare(
        `UPDATE network_interfaces SET description = @description,
           source_dest_check = @sourceDestCheck WHERE network_interface_id = @networkInterfaceId`,
      ),
      deleteInterface: prepare('DELETE FROM network_interfaces WHERE network_interface_id = ?'),
      deleteTagsOf: prepare('DELETE FROM tags WHERE resource_id = ?'),
      interfaceGroups: prepare(
        'SELECT network_interface_id, group_id FROM network_interface_groups ORDER BY network_interface_id, position',
      ),
      groupsOf: prepare(
        'SELECT group_id FROM network_interface_groups WHERE network_interface_id = ? ORDER BY position',
      ),
      clearGroups: prepare('DELETE FROM network_interface_groups WHERE network_interface_id = ?'),
      addGroup: prepare(
        'INSERT INTO network_interface_groups (network_interface_id, group_id, position) VALUES (?, ?, ?)',
      ),
      interfacesWithGroup: prepare(
        'SELECT network_interface_id FROM network_interface_groups WHERE group_id = ? ORDER BY network_interface_id',
      ),
      addresses: prepare('SELECT * FROM private_addresses ORDER BY network_interface_id, seq'),
      addressesOf: prepare(
        'SELECT * FROM private_addresses WHERE network_interface_id = ? ORDER BY seq',
      ),
      addressesIn: prepare('SELECT address FROM private_addresses WHERE vpc_id = ?'),
      addressOwner: prepare(
        'SELECT network_interface_id FROM private_addresses WHERE vpc_id = ? AND address = ?',
      ),
      addAddress: prepare(
        `INSERT INTO private_addresses (vpc_id, address, network_interface_id, is_primary, seq)
         VALUES (?, ?, ?, ?, ?)`,
      ),
      removeAddress: prepare(
        'DELETE FROM private_addresses WHERE network_interface_id = ? AND address = ?',
      ),
      attachments: prepare('SELECT * FROM attachments ORDER BY instance_id, device_index'),
      attachmentOfInterface: prepare('SELECT * FROM attachments WHERE network_interface_id = ?'),
      attachment: prepare('SELECT * FROM attachments WHERE attachment_id = ?'),
      attachmentsOf: prepare(
        'SELECT * FROM attachments WHERE instance_id = ? ORDER BY network_card_index, device_index',
      ),
      insertAttachment: prepare(
        `INSERT INTO attachments (attachment_id, network_interface_id, instance_id, device_index,
           network_card_index, delete_on_termination, attach_time)
         VALUES (@attachmentId, @networkInterfaceId, @instanceId, @deviceIndex, @networkCardIndex,
           @deleteOnTermination, @attachTime)`,
      ),
      setDeleteOnTermination: prepare(
        'UPDATE attachments SET delete_on_termination = ? WHERE attachment_id = ?',
      ),
      deleteAttachment: prepare('DELETE FROM attachments WHERE attachment_id = ?'),
      associations: prepare('SELECT * FROM trunk_associations ORDER BY seq'),
      association: prepare('SELECT * FROM trunk_associations WHERE association_id = ?'),
      associationOfBranch: prepare(
        'SELECT * FROM trunk_associations WHERE branch_interface_id = ?',
      ),
      associationsOfTrunk: prepare(
        'SELECT * FROM trunk_associations WHERE trunk_interface_id = ? ORDER BY vlan_id',
      ),
      insertAssociation: prepare(
        `INSERT INTO trunk_associations (association_id, branch_interface_id, trunk_interface_id,
           vlan_id, gre_key, seq)
         VALUES (@associationId, @branchInterfaceId, @trunkInterfaceId, @vlanId, @greKey, @seq)`,
      ),
      deleteAssociation: prepare('DELETE FROM trunk_associations WHERE association_id = ?'),
      permissions: prepare('SELECT * FROM network_interface_permissions ORDER BY seq'),
      permission: prepare('SELECT * FROM network_interface_permissions WHERE permission_id = ?'),
      insertPermission: prepare(
        `INSERT INTO network_interface_permissions (permission_id, network_interface_id,
           aws_account_id, aws_service, permission, seq)
         VALUES (@permissionId, @networkInterfaceId, @awsAccountId, @awsService, @permission, @seq)`,
      ),
      deletePermission: prepare(
        'DELETE FROM network_interface_permissions WHERE permission_id = ?',
      ),
      clientToken: prepare(
        'SELECT response FROM client_tokens WHERE action = ? AND client_token = ?',
      ),
      putClientToken: prepare(
        'INSERT INTO client_tokens (action, client_token, response) VALUES (?, ?, ?)',
      ),
    } as const;
  }

  instances(): InstanceRow[] {
    return (this.#statements.instances.all() as Raw[]).map(instanceOf);
  }

  instance(instanceId: string): InstanceRow | undefined {
    const row = this.#statements.instance.get(instanceId) as Raw | undefined;
    return row ? instanceOf(row) : undefined;
  }

  /** Instances not yet terminated (what counts against a limit). */
  liveInstanceCount(): number {
    return Number((this.#statements.instanceCount.get() as Raw).n);
  }

  insertInstance(row: InstanceRow): void {
    this.#statements.insertInstance.run({
      ...row,
      stateReason: row.stateReason ?? null,
      keyName: row.keyName ?? null,
      clientToken: row.clientToken ?? null,
      iamInstanceProfileArn: row.iamInstanceProfileArn ?? null,
      seq: this.nextSeq('instance'),
    });
  }

  /** Moves an instance from `from` to `state`; false when it was not in `from` any more. */
  setInstanceState(
    instanceId: string,
    from: InstanceState,
    state: InstanceState,
    at: string,
    stateReason?: string,
  ): boolean {
    const result = this.#statements.setInstanceState.run({
      instanceId,
      from,
      state,
      at,
      stateReason: stateReason ?? null,
    });
    return result.changes > 0;
  }

  deleteInstance(instanceId: string): void {
    this.#statements.deleteInstance.run(instanceId);
    this.#statements.deleteTagsOf.run(instanceId);
  }

  networkInterfaces(): NetworkInterfaceRow[] {
    return (this.#statements.interfaces.all() as Raw[]).map(interfaceOf);
  }

  networkInterface(networkInterfaceId: string): NetworkInterfaceRow | undefined {
    const row = this.#statements.interface.get(networkInterfaceId) as Raw | undefined;
    return row ? interfaceOf(row) : undefined;
  }

  macInUse(macAddress: string): boolean {
    return this.#statements.macInUse.get(macAddress) !== undefined;
  }

  insertNetworkInterface(row: NetworkInterfaceRow): void {
    this.#statements.insertInterface.run({
      ...row,
      sourceDestCheck: flag(row.sourceDestCheck),
      requesterManaged: flag(row.requesterManaged),
      seq: this.nextSeq('network-interface'),
    });
  }

  updateNetworkInterface(row: NetworkInterfaceRow): void {
    this.#statements.updateInterface.run({
      networkInterfaceId: row.networkInterfaceId,
      description: row.description,
      sourceDestCheck: flag(row.sourceDestCheck),
    });
  }

  /** Deletes an interface with its groups, addresses, attachment, associations and tags. */
  deleteNetworkInterface(networkInterfaceId: string): void {
    this.#statements.deleteInterface.run(networkInterfaceId);
    this.#statements.deleteTagsOf.run(networkInterfaceId);
  }

  /** Group ids per interface, in the interface's order. */
  interfaceGroups(): Map<string, string[]> {
    const byInterface = new Map<string, string[]>();
    for (const raw of this.#statements.interfaceGroups.all() as Raw[]) {
      const id = text(raw.network_interface_id);
      const list = byInterface.get(id) ?? [];
      list.push(text(raw.group_id));
      byInterface.set(id, list);
    }
    return byInterface;
  }

  groupsOf(networkInterfaceId: string): string[] {
    return (this.#statements.groupsOf.all(networkInterfaceId) as Raw[]).map((raw) =>
      text(raw.group_id),
    );
  }

  setGroups(networkInterfaceId: string, groupIds: readonly string[]): void {
    this.#statements.clearGroups.run(networkInterfaceId);
    groupIds.forEach((groupId, position) =>
      this.#statements.addGroup.run(networkInterfaceId, groupId, position),
    );
  }

  interfacesWithGroup(groupId: string): string[] {
    return (this.#statements.interfacesWithGroup.all(groupId) as Raw[]).map((raw) =>
      text(raw.network_interface_id),
    );
  }

  /** Private addresses per interface, the primary first. */
  addresses(): Map<string, PrivateAddressRow[]> {
    const byInterface = new Map<string, PrivateAddressRow[]>();
    for (const raw of this.#statements.addresses.all() as Raw[]) {
      const row = addressOf(raw);
      const list = byInterface.get(row.networkInterfaceId) ?? [];
      list.push(row);
      byInterface.set(row.networkInterfaceId, list);
    }
    return byInterface;
  }

  addressesOf(networkInterfaceId: string): PrivateAddressRow[] {
    return (this.#statements.addressesOf.all(networkInterfaceId) as Raw[]).map(addressOf);
  }

  /** Every private address taken in a VPC. */
  addressesIn(vpcId: string): Set<string> {
    return new Set(
      (this.#statements.addressesIn.all(vpcId) as Raw[]).map((raw) => text(raw.address)),
    );
  }

  addressOwner(vpcId: string, address: string): string | undefined {
    const row = this.#statements.addressOwner.get(vpcId, address) as Raw | undefined;
    return row ? text(row.network_interface_id) : undefined;
  }

  addAddress(vpcId: string, networkInterfaceId: string, address: string, primary: boolean): void {
    this.#statements.addAddress.run(
      vpcId,
      address,
      networkInterfaceId,
      flag(primary),
      this.nextSeq('private-address'),
    );
  }

  removeAddress(networkInterfaceId: string, address: string): void {
    this.#statements.removeAddress.run(networkInterfaceId, address);
  }

  attachments(): AttachmentRow[] {
    return (this.#statements.attachments.all() as Raw[]).map(attachmentOf);
  }

  attachment(attachmentId: string): AttachmentRow | undefined {
    const row = this.#statements.attachment.get(attachmentId) as Raw | undefined;
    return row ? attachmentOf(row) : undefined;
  }

  attachmentOfInterface(networkInterfaceId: string): AttachmentRow | undefined {
    const row = this.#statements.attachmentOfInterface.get(networkInterfaceId) as Raw | undefined;
    return row ? attachmentOf(row) : undefined;
  }

  attachmentsOf(instanceId: string): AttachmentRow[] {
    return (this.#statements.attachmentsOf.all(instanceId) as Raw[]).map(attachmentOf);
  }

  insertAttachment(row: AttachmentRow): void {
    this.#statements.insertAttachment.run({
      ...row,
      deleteOnTermination: flag(row.deleteOnTermination),
    });
  }

  setDeleteOnTermination(attachmentId: string, deleteOnTermination: boolean): void {
    this.#statements.setDeleteOnTermination.run(flag(deleteOnTermination), attachmentId);
  }

  deleteAttachment(attachmentId: string): void {
    this.#statements.deleteAttachment.run(attachmentId);
  }

  trunkAssociations(): TrunkAssociationRow[] {
    return (this.#statements.associations.all() as Raw[]).map(associationOf);
  }

  trunkAssociation(associationId: string): TrunkAssociationRow | undefined {
    const row = this.#statements.association.get(associationId) as Raw | undefined;
    return row ? associationOf(row) : undefined;
  }

  associationOfBranch(branchInterfaceId: string): TrunkAssociationRow | undefined {
    const row = this.#statements.associationOfBranch.get(branchInterfaceId) as Raw | undefined;
    return row ? associationOf(row) : undefined;
  }

  associationsOfTrunk(trunkInterfaceId: string): TrunkAssociationRow[] {
    return (this.#statements.associationsOfTrunk.all(trunkInterfaceId) as Raw[]).map(associationOf);
  }

  insertTrunkAssociation(row: TrunkAssociationRow): void {
    this.#statements.insertAssociation.run({
      ...row,
      greKey: row.greKey ?? null,
      seq: this.nextSeq('trunk-association'),
    });
  }

  deleteTrunkAssociation(associationId: string): void {
    this.#statements.deleteAssociation.run(associationId);
    this.#statements.deleteTagsOf.run(associationId);
  }

  permissions(): PermissionRow[] {
    return (this.#statements.permissions.all() as Raw[]).map(permissionOf);
  }

  permission(permissionId: string): PermissionRow | undefined {
    const row = this.#statements.permission.get(permissionId) as Raw | undefined;
    return row ? permissionOf(row) : undefined;
  }

  insertPermission(row: PermissionRow): void {
    this.#statements.insertPermission.run({
      ...row,
      awsAccountId: row.awsAccountId ?? null,
      awsService: row.awsService ?? null,
      seq: this.nextSeq('network-interface-permission'),
    });
  }

  deletePermission(permissionId: string): void {
    this.#statements.deletePermission.run(permissionId);
  }

  /** The response a call with this client token already got (EC2 idempotency). */
  clientTokenResponse(action: string, clientToken: string): string | undefined {
    const row = this.#statements.clientToken.get(action, clientToken) as Raw | undefined;
    return row ? text(row.response) : undefined;
  }

  putClientTokenResponse(action: string, clientToken: string, response: string): void {
    this.#statements.putClientToken.run(action, clientToken, response);
  }
}
