/**
 * DescribeInstanceTypes from the limits table (core/instance-types) and a minimal
 * DescribeImages: any well-formed image id describes as a Linux image, since the sandbox boots
 * every instance the same way (a network namespace).
 */
import { Ec2RequestError } from '../../../core/errors.js';
import {
  instanceTypeLimits,
  knownInstanceTypes,
  type InstanceTypeLimits,
} from '../../../core/instance-types/instance-types.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Context } from './ec2-context.js';
import { applyFilters } from './filters.js';
import { architectureOf } from './instance-records.js';
import { paginate } from './pagination.js';

interface TypeRow extends InstanceTypeLimits {
  readonly instanceType: string;
}

export function describeInstanceTypes(params: QueryParams): Record<string, XmlValue> {
  const requested = params.list('InstanceType');
  const unknown = requested.filter((type) => !instanceTypeLimits(type));
  if (unknown.length > 0) {
    throw new Ec2RequestError(
      'InvalidInstanceType',
      `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
    );
  }
  const names = requested.length > 0 ? requested : knownInstanceTypes().sort();
  const rows: TypeRow[] = names.map((instanceType) => ({
    instanceType,
    ...(instanceTypeLimits(instanceType) as InstanceTypeLimits),
  }));
  const selected = applyFilters(rows, params.filters(), {
    'instance-type': (row) => row.instanceType,
    'current-generation': () => true,
    'bare-metal': (row) => row.bareMetal,
    hypervisor: (row) => row.hypervisor ?? undefined,
    'vcpu-info.default-vcpus': (row) => row.vcpus,
    'memory-info.size-in-mib': (row) => row.memoryMiB,
    'network-info.maximum-network-interfaces': (row) => row.maxEnis,
    'network-info.ipv4-addresses-per-interface': (row) => row.ipv4PerEni,
    'processor-info.supported-architecture': (row) => architectureOf(row.instanceType),
  });
  const page = paginate(selected, params, { min: 5, max: 100 });
  return {
    instanceTypeSet: page.items.map((row) => ({
      instanceType: row.instanceType,
      currentGeneration: true,
      bareMetal: row.bareMetal,
      hypervisor: row.hypervisor ?? undefined,
      supportedUsageClasses: ['on-demand', 'spot'],
      supportedRootDeviceTypes: ['ebs'],
      supportedVirtualizationTypes: ['hvm'],
      processorInfo: { supportedArchitectures: [architectureOf(row.instanceType)] },
      vCpuInfo: { defaultVCpus: row.vcpus },
      memoryInfo: { sizeInMiB: row.memoryMiB },
      networkInfo: {
        maximumNetworkInterfaces: row.maxEnis,
        maximumNetworkCards: 1,
        defaultNetworkCardIndex: 0,
        networkCards: [{ networkCardIndex: 0, maximumNetworkInterfaces: row.maxEnis }],
        ipv4AddressesPerInterface: row.ipv4PerEni,
        ipv6AddressesPerInterface: row.ipv4PerEni,
        ipv6Supported: true,
        enaSupport: 'required',
      },
    })),
    nextToken: page.nextToken,
  };
}

/** The image sgpods offers when asked for images without ids. */
export const sandboxImageId = 'ami-0a5a7e1e5d0c0ffee';
const imageIdPattern = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function describeImages(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const ids = params.list('ImageId');
  for (const id of ids) {
    if (!imageIdPattern.test(id)) {
      throw new Ec2RequestError(
        'InvalidAMIID.Malformed',
        `Invalid id: "${id}" (expecting "ami-...")`,
      );
    }
  }
  const images = (ids.length > 0 ? ids : [sandboxImageId]).map((imageId) => ({
    imageId,
    name: imageId === sandboxImageId ? 'sgpods-sandbox-linux' : `sgpods-${imageId}`,
    ownerId: context.accountId,
  }));
  const selected = applyFilters(images, params.filters(), {
    'image-id': (image) => image.imageId,
    name: (image) => image.name,
    state: () => 'available',
    architecture: () => 'x86_64',
    'owner-id': (image) => image.ownerId,
    'image-type': () => 'machine',
    'is-public': () => true,
  });
  return {
    imagesSet: selected.map((image) => ({
      imageId: image.imageId,
      imageLocation: `${image.ownerId}/${image.name}`,
      imageState: 'available',
      imageOwnerId: image.ownerId,
      creationDate: '2026-01-01T00:00:00.000Z',
      isPublic: true,
      architecture: 'x86_64',
      imageType: 'machine',
      name: image.name,
      description: 'A network namespace booted by the sgpods local cloud',
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/xvda',
      blockDeviceMapping: [],
      virtualizationType: 'hvm',
      hypervisor: 'xen',
      enaSupport: true,
      platformDetails: 'Linux/UNIX',
    })),
  };
}
