/**
 * EC2 resource ids: a prefix, a dash, and 8 (older resources) or 17 lowercase hex digits.
 * Minting takes the random bytes as an argument: the core has no randomness of its own.
 */

export const resourcePrefixes = {
  securityGroup: 'sg',
  securityGroupRule: 'sgr',
  networkInterface: 'eni',
  prefixList: 'pl',
  instance: 'i',
  vpc: 'vpc',
  subnet: 'subnet',
  trunkAssociation: 'trunk-assoc',
  reservation: 'r',
  networkInterfaceAttachment: 'eni-attach',
  networkInterfacePermission: 'eni-perm',
  image: 'ami',
  routeTable: 'rtb',
  dhcpOptions: 'dopt',
  vpcCidrAssociation: 'vpc-cidr-assoc',
} as const;

export type ResourceKind = keyof typeof resourcePrefixes;

const idPatterns = new Map<ResourceKind, RegExp>(
  Object.entries(resourcePrefixes).map(([kind, prefix]) => [
    kind as ResourceKind,
    new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`),
  ]),
);

export function isResourceId(kind: ResourceKind, text: string): boolean {
  return idPatterns.get(kind)?.test(text) ?? false;
}

/** A new 17-hex-digit id from at least 9 random bytes (the first 17 hex digits are used). */
export function mintResourceId(kind: ResourceKind, randomBytes: Uint8Array): string {
  const hex = Array.from(randomBytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  if (hex.length < 17) throw new RangeError('mintResourceId needs at least 9 random bytes');
  return `${resourcePrefixes[kind]}-${hex.slice(0, 17)}`;
}
