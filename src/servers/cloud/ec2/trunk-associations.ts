/**
 * Trunking: a branch interface associated with a trunk interface by VLAN id. EC2 does not
 * document the errors of these calls (moto does not implement them): codes follow EC2's
 * conventions and the texts are ours (docs/errors.md). The compute plane gives an associated
 * branch its own router port, `vlan.eth.<vlanId>` in the trunk's instance.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { instanceTypeLimits } from '../../../core/instance-types/instance-types.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { NetworkInterfaceRow, TrunkAssociationRow } from '../state/compute-store.js';
import type { Ec2Context } from './ec2-context.js';
import { applyFilters } from './filters.js';
import { existingInterface, interfaceInUse } from './interface-records.js';
import { withClientToken } from './client-tokens.js';
import { paginate } from './pagination.js';

export const maxVlanId = 4094;

function associationNotFound(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidAssociationID.NotFound',
    `The association ID '${id}' does not exist`,
  );
}

function associationXml(row: TrunkAssociationRow): XmlValue {
  return {
    associationId: row.associationId,
    branchInterfaceId: row.branchInterfaceId,
    trunkInterfaceId: row.trunkInterfaceId,
    interfaceProtocol: row.greKey === undefined ? 'VLAN' : 'GRE',
    vlanId: row.vlanId,
    greKey: row.greKey,
  };
}

/** The two interfaces can be a branch and its trunk. */
function checkPair(
  context: Ec2Context,
  branch: NetworkInterfaceRow,
  trunk: NetworkInterfaceRow,
): void {
  const { compute } = context.store;
  if (trunk.interfaceType !== 'trunk') {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Network interface '${trunk.networkInterfaceId}' is not a trunk interface`,
    );
  }
  if (branch.interfaceType === 'trunk') {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `A trunk interface ('${branch.networkInterfaceId}') cannot be a branch interface`,
    );
  }
  if (branch.vpcId !== trunk.vpcId || branch.availabilityZone !== trunk.availabilityZone) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      `Branch interface '${branch.networkInterfaceId}' and trunk interface '${trunk.networkInterfaceId}' are not in the same VPC and availability zone`,
    );
  }
  if (compute.associationOfBranch(branch.networkInterfaceId)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Network interface '${branch.networkInterfaceId}' is already associated with a trunk interface`,
    );
  }
  if (compute.attachmentOfInterface(branch.networkInterfaceId)) {
    throw interfaceInUse(branch.networkInterfaceId);
  }
}

export function associateTrunkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  return withClientToken('AssociateTrunkInterface', params, context, () => {
    const { store } = context;
    const { compute } = store;
    const branch = existingInterface(store, params.required('BranchInterfaceId'));
    const trunk = existingInterface(store, params.required('TrunkInterfaceId'));
    if (params.get('GreKey') !== undefined) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        'GRE associations are for EC2 in Outposts and not supported here; use VlanId',
      );
    }
    const vlanId = params.integer('VlanId');
    if (vlanId === undefined) {
      throw new Ec2RequestError(
        'MissingParameter',
        'The request must contain the parameter VlanId',
      );
    }
    if (vlanId < 1 || vlanId > maxVlanId) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `Invalid value '${vlanId}' for VlanId: it must be between 1 and ${maxVlanId}`,
      );
    }
    checkPair(context, branch, trunk);
    const attachment = compute.attachmentOfInterface(trunk.networkInterfaceId);
    const instance = attachment ? compute.instance(attachment.instanceId) : undefined;
    if (!instance || instance.state !== 'running') {
      throw new Ec2RequestError(
        'IncorrectState',
        `Trunk interface '${trunk.networkInterfaceId}' is not attached to a running instance`,
      );
    }
    const associations = compute.associationsOfTrunk(trunk.networkInterfaceId);
    if (associations.some((row) => row.vlanId === vlanId)) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `VLAN ${vlanId} is already in use on trunk interface '${trunk.networkInterfaceId}'`,
      );
    }
    const limit = instanceTypeLimits(instance.instanceType)?.branchInterfaces ?? 0;
    if (associations.length >= limit) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `Trunk interface '${trunk.networkInterfaceId}' has reached the limit of ${limit} branch interfaces of ${instance.instanceType}`,
      );
    }
    const row: TrunkAssociationRow = {
      associationId: context.newId('trunkAssociation'),
      branchInterfaceId: branch.networkInterfaceId,
      trunkInterfaceId: trunk.networkInterfaceId,
      vlanId,
    };
    compute.insertTrunkAssociation(row);
    context.changes.computeChanged('live');
    return { interfaceAssociation: associationXml(row) };
  });
}

export function disassociateTrunkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  return withClientToken('DisassociateTrunkInterface', params, context, () => {
    const id = params.required('AssociationId');
    if (!context.store.compute.trunkAssociation(id)) throw associationNotFound(id);
    context.store.compute.deleteTrunkAssociation(id);
    context.changes.computeChanged('live');
    return { return: true };
  });
}

export function describeTrunkInterfaceAssociations(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { compute } = context.store;
  const ids = params.list('AssociationId');
  for (const id of ids) if (!compute.trunkAssociation(id)) throw associationNotFound(id);
  const selected = applyFilters(
    compute
      .trunkAssociations()
      .filter((row) => ids.length === 0 || ids.includes(row.associationId)),
    params.filters(),
    {
      'gre-key': (row) => (row.greKey === undefined ? undefined : String(row.greKey)),
      'interface-protocol': (row) => (row.greKey === undefined ? 'VLAN' : 'GRE'),
      'trunk-interface-association.association-id': (row) => row.associationId,
      'trunk-interface-association.trunk-interface-id': (row) => row.trunkInterfaceId,
      'trunk-interface-association.branch-interface-id': (row) => row.branchInterfaceId,
      'trunk-interface-association.vlan-id': (row) => String(row.vlanId),
    },
  );
  const page = paginate(selected, params, { min: 5, max: 255 });
  return {
    interfaceAssociationSet: page.items.map(associationXml),
    nextToken: page.nextToken,
  };
}
