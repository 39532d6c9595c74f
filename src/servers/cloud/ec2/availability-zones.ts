/** DescribeAvailabilityZones: the region's zones (a–d), with EC2's filters and errors. */
import { Ec2RequestError } from '../../../core/errors.js';
import type { XmlValue } from '../query/ec2-xml.js';
import { filterMatches, type QueryParams } from '../query/query-params.js';

export interface AvailabilityZone {
  readonly zoneName: string;
  readonly zoneId: string;
  readonly regionName: string;
}

/** `us-west-2` → `usw2`: the prefix of zone ids. */
function regionCode(region: string): string {
  const [area = '', direction = '', number = ''] = region.split('-');
  return `${area}${direction.replace(/(north|south|east|west|central)/g, (word) => word[0] ?? '')}${number}`;
}

export function availabilityZonesOf(region: string): AvailabilityZone[] {
  return ['a', 'b', 'c', 'd'].map((letter, index) => ({
    zoneName: `${region}${letter}`,
    zoneId: `${regionCode(region)}-az${index + 1}`,
    regionName: region,
  }));
}

const filterFields: Record<string, (zone: AvailabilityZone) => string> = {
  'zone-name': (zone) => zone.zoneName,
  'zone-id': (zone) => zone.zoneId,
  'region-name': (zone) => zone.regionName,
  state: () => 'available',
  'zone-type': () => 'availability-zone',
  'group-name': (zone) => zone.regionName,
};

export function describeAvailabilityZones(
  params: QueryParams,
  region: string,
): Record<string, XmlValue> {
  const zones = availabilityZonesOf(region);
  const names = params.list('ZoneName');
  const ids = params.list('ZoneId');
  for (const name of names) {
    if (!zones.some((zone) => zone.zoneName === name)) {
      throw new Ec2RequestError('InvalidParameterValue', `Invalid availability zone: [${name}]`);
    }
  }
  const filters = params.filters();
  for (const filter of filters) {
    if (!(filter.name in filterFields)) {
      throw new Ec2RequestError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    }
  }
  const selected = zones.filter(
    (zone) =>
      (names.length === 0 || names.includes(zone.zoneName)) &&
      (ids.length === 0 || ids.includes(zone.zoneId)) &&
      filters.every((filter) => filterMatches(filter, filterFields[filter.name]?.(zone))),
  );
  return {
    availabilityZoneInfo: selected.map((zone) => ({
      zoneName: zone.zoneName,
      zoneState: 'available',
      regionName: zone.regionName,
      messageSet: [],
      zoneId: zone.zoneId,
      groupName: zone.regionName,
      networkBorderGroup: zone.regionName,
      optInStatus: 'opt-in-not-required',
      zoneType: 'availability-zone',
    })),
  };
}
