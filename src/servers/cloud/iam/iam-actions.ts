/**
 * IAM, as far as an EKS cluster's users touch it: the roles eksctl creates (made at first start)
 * and AWS-managed policies attached to and detached from them. Roles are global: no region.
 */
import { AwsServiceError } from '../../../core/errors.js';
import type { Ec2Context, QueryHandler } from '../ec2/ec2-context.js';
import type { QueryParams } from '../query/query-params.js';
import { xmlList, type QueryValue } from '../query/query-xml.js';
import type { RoleRow } from '../state/iam-store.js';

/** AWS-managed policies that can be attached (path and name). */
const managedPolicies: ReadonlyMap<string, string> = new Map(
  [
    'AmazonEKSClusterPolicy',
    'AmazonEKSServicePolicy',
    'AmazonEKSVPCResourceController',
    'AmazonEKSWorkerNodePolicy',
    'AmazonEKS_CNI_Policy',
    'AmazonEC2ContainerRegistryReadOnly',
    'AmazonSSMManagedInstanceCore',
    'AmazonEC2FullAccess',
    'AmazonEC2ReadOnlyAccess',
    'AmazonRDSFullAccess',
    'AmazonRDSReadOnlyAccess',
    'AmazonVPCFullAccess',
    'AdministratorAccess',
    'ReadOnlyAccess',
    'CloudWatchAgentServerPolicy',
    'service-role/AmazonEBSCSIDriverPolicy',
  ].map((path) => [`arn:aws:iam::aws:policy/${path}`, path.split('/').pop() ?? path]),
);

const policyArnPattern = /^arn:aws:iam::(?:aws|\d{12}):policy\/[\w+=,.@/-]+$/;

function required(params: QueryParams, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') {
    throw new AwsServiceError(
      'ValidationError',
      `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function existingRole(context: Ec2Context, roleName: string): RoleRow {
  const role = context.store.iam.role(roleName);
  if (!role) {
    throw new AwsServiceError(
      'NoSuchEntity',
      `The role with name ${roleName} cannot be found.`,
      404,
    );
  }
  return role;
}

function attachablePolicy(policyArn: string): string {
  if (!policyArnPattern.test(policyArn)) {
    throw new AwsServiceError('InvalidInput', `ARN ${policyArn} is not valid.`);
  }
  if (!managedPolicies.has(policyArn)) {
    throw new AwsServiceError(
      'NoSuchEntity',
      `Policy ${policyArn} does not exist or is not attachable.`,
      404,
    );
  }
  return policyArn;
}

function roleXml(role: RoleRow): QueryValue {
  return {
    Path: role.path,
    RoleName: role.roleName,
    RoleId: role.roleId,
    Arn: role.arn,
    CreateDate: role.createdAt,
    // IAM returns the trust policy URL-encoded.
    AssumeRolePolicyDocument: encodeURIComponent(role.assumeRolePolicy),
    Description: role.description,
    MaxSessionDuration: 3600,
  };
}

/** Roles per account: IAM's default quota. */
const maxPoliciesPerRole = 10;

export const iamActions: Readonly<Record<string, QueryHandler>> = {
  GetRole: (params, context) => ({
    Role: roleXml(existingRole(context, required(params, 'RoleName'))),
  }),
  ListRoles: (params, context) => {
    const prefix = params.get('PathPrefix') ?? '/';
    return {
      Roles: xmlList(
        'member',
        context.store.iam
          .roles()
          .filter((role) => role.path.startsWith(prefix))
          .map(roleXml),
      ),
      IsTruncated: false,
    };
  },
  AttachRolePolicy: (params, context) => {
    const role = existingRole(context, required(params, 'RoleName'));
    const policyArn = attachablePolicy(required(params, 'PolicyArn'));
    const attached = context.store.iam.attachedPolicies(role.roleName);
    if (!attached.includes(policyArn) && attached.length >= maxPoliciesPerRole) {
      throw new AwsServiceError(
        'LimitExceeded',
        `Cannot exceed quota for PoliciesPerRole: ${maxPoliciesPerRole}`,
        409,
      );
    }
    context.store.iam.attachPolicy(role.roleName, policyArn);
    return undefined;
  },
  DetachRolePolicy: (params, context) => {
    const role = existingRole(context, required(params, 'RoleName'));
    const policyArn = required(params, 'PolicyArn');
    if (!policyArnPattern.test(policyArn)) {
      throw new AwsServiceError('InvalidInput', `ARN ${policyArn} is not valid.`);
    }
    if (!context.store.iam.detachPolicy(role.roleName, policyArn)) {
      throw new AwsServiceError('NoSuchEntity', `Policy ${policyArn} was not found.`, 404);
    }
    return undefined;
  },
  ListAttachedRolePolicies: (params, context) => {
    const role = existingRole(context, required(params, 'RoleName'));
    return {
      AttachedPolicies: xmlList(
        'member',
        context.store.iam.attachedPolicies(role.roleName).map((policyArn) => ({
          PolicyName: managedPolicies.get(policyArn) ?? policyArn.split('/').pop(),
          PolicyArn: policyArn,
        })),
      ),
      IsTruncated: false,
    };
  },
};

/** CloudFormation-style physical names: `<stack>-<logical id>-<13 random>`, at most 64 characters. */
function physicalName(context: Ec2Context, stack: string, logicalId: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const suffix = Array.from(
    context.randomBytes(13),
    (byte) => alphabet[byte % alphabet.length],
  ).join('');
  const room = 64 - logicalId.length - suffix.length - 2;
  return `${stack.slice(0, room)}-${logicalId}-${suffix}`;
}

function trustPolicy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: [service] }, Action: ['sts:AssumeRole'] }],
  });
}

export interface ClusterRoles {
  readonly clusterRoleName: string;
  readonly nodeRoleName: string;
}

/** The roles eksctl creates for the cluster and its first managed node group, with their policies. */
export function bootstrapClusterRoles(
  context: Ec2Context,
  clusterName: string,
  nodeGroupName = 'nodegroup',
): ClusterRoles {
  const { iam } = context.store;
  const create = (name: string, service: string, policies: readonly string[]) => {
    const roleId = `AROA${Array.from(context.randomBytes(17), (byte) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[byte % 32]).join('')}`;
    iam.insertRole({
      roleName: name,
      roleId,
      path: '/',
      arn: `arn:aws:iam::${context.accountId}:role/${name}`,
      assumeRolePolicy: trustPolicy(service),
      createdAt: context.now(),
    });
    for (const policy of policies) iam.attachPolicy(name, `arn:aws:iam::aws:policy/${policy}`);
  };
  const clusterRoleName = physicalName(context, `eksctl-${clusterName}-cluster`, 'ServiceRole');
  create(clusterRoleName, 'eks.amazonaws.com', [
    'AmazonEKSClusterPolicy',
    'AmazonEKSVPCResourceController',
  ]);
  const nodeRoleName = physicalName(
    context,
    `eksctl-${clusterName}-nodegroup-${nodeGroupName}`,
    'NodeInstanceRole',
  );
  create(nodeRoleName, 'ec2.amazonaws.com', [
    'AmazonEKSWorkerNodePolicy',
    'AmazonEKS_CNI_Policy',
    'AmazonEC2ContainerRegistryReadOnly',
    'AmazonSSMManagedInstanceCore',
  ]);
  return { clusterRoleName, nodeRoleName };
}
