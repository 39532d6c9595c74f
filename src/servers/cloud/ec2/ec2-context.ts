/**
 * What an EC2 action handler gets: the store (inside the call's transaction), the region and
 * account, an id minter, and a record of what changed for the dataplane to apply after commit.
 */
import type { ResourceKind } from '../../../core/sg/resource-ids.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryValue } from '../query/query-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Store } from '../state/ec2-store.js';

/** What a committed call changed that the dataplane enforces. */
export class Ec2Changes {
  readonly groups = new Set<string>();
  readonly removedGroups = new Set<string>();
  prefixLists = false;
  /**
   * Instances, interfaces or associations changed: `live` answers only once the kernel matches
   * (group and address changes are enforced before the call returns); `background` answers at
   * once and lets instances move through `pending` / `shutting-down` on their own.
   */
  compute: 'none' | 'background' | 'live' = 'none';

  computeChanged(mode: 'background' | 'live'): void {
    if (this.compute !== 'live') this.compute = mode;
  }
}

export interface Ec2Context {
  readonly store: Ec2Store;
  readonly region: string;
  readonly accountId: string;
  readonly changes: Ec2Changes;
  newId(kind: ResourceKind): string;
  randomBytes(length: number): Uint8Array;
  /** The current time, ISO 8601 with milliseconds (EC2's timestamps). */
  now(): string;
}

export type Ec2Handler = (params: QueryParams, context: Ec2Context) => Record<string, XmlValue>;

/** An RDS or IAM action (query protocol): the `<XResult>` content, or undefined for none. */
export type QueryHandler = (
  params: QueryParams,
  context: Ec2Context,
) => Record<string, QueryValue> | undefined;

export function arnOf(context: Ec2Context, resourceType: string, id: string): string {
  return `arn:aws:ec2:${context.region}:${context.accountId}:${resourceType}/${id}`;
}
