/**
 * The `vpc.amazonaws.com/pod-eni` pod annotation: a JSON array, one object per branch ENI, with
 * exactly the upstream keys in the upstream order (no omitempty: empty strings are written).
 */
import { AnnotationError } from '../errors.js';

export const podEniAnnotation = 'vpc.amazonaws.com/pod-eni';
/** The extended resource a branch-ENI pod requests (same name as the annotation). */
export const podEniResource = 'vpc.amazonaws.com/pod-eni';

export interface BranchEniDetails {
  readonly eniId: string;
  readonly ifAddress: string;
  readonly privateIp: string;
  readonly ipv6Addr: string;
  readonly vlanId: number;
  readonly subnetCidr: string;
  readonly subnetV6Cidr: string;
  readonly associationID: string;
}

const stringKeys = [
  'eniId',
  'ifAddress',
  'privateIp',
  'ipv6Addr',
  'subnetCidr',
  'subnetV6Cidr',
  'associationID',
] as const;

export function encodePodEniAnnotation(enis: readonly BranchEniDetails[]): string {
  return JSON.stringify(
    enis.map((eni) => ({
      eniId: eni.eniId,
      ifAddress: eni.ifAddress,
      privateIp: eni.privateIp,
      ipv6Addr: eni.ipv6Addr,
      vlanId: eni.vlanId,
      subnetCidr: eni.subnetCidr,
      subnetV6Cidr: eni.subnetV6Cidr,
      associationID: eni.associationID,
    })),
  );
}

/** Decodes the annotation. Absent keys read as "" (or vlanId 0), as Go's decoder leaves them. */
export function decodePodEniAnnotation(text: string): BranchEniDetails[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AnnotationError(`${podEniAnnotation} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) {
    throw new AnnotationError(`${podEniAnnotation} must be a JSON array`);
  }
  return parsed.map((item: unknown, index): BranchEniDetails => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new AnnotationError(`${podEniAnnotation}[${index}] must be an object`);
    }
    const record = item as Record<string, unknown>;
    const strings = Object.fromEntries(
      stringKeys.map((key) => {
        const value = record[key] ?? '';
        if (typeof value !== 'string') {
          throw new AnnotationError(`${podEniAnnotation}[${index}].${key} must be a string`);
        }
        return [key, value];
      }),
    ) as Record<(typeof stringKeys)[number], string>;
    const vlanId = record.vlanId ?? 0;
    if (typeof vlanId !== 'number' || !Number.isInteger(vlanId) || vlanId < 0 || vlanId > 4094) {
      throw new AnnotationError(`${podEniAnnotation}[${index}].vlanId must be an integer 0-4094`);
    }
    return { ...strings, vlanId };
  });
}
