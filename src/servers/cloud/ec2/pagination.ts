/**
 * EC2 pagination: `MaxResults` within the operation's bounds (the CLI checks the minimum, the SDK
 * does not, so the server must), an opaque `NextToken`, and no token on the last page.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import type { QueryParams } from '../query/query-params.js';

export interface PageBounds {
  readonly min: number;
  readonly max: number;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextToken?: string;
}

function decodeToken(token: string): number {
  const match = /^sgpods-page-(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('latin1'));
  if (!match?.[1]) {
    throw new Ec2RequestError(
      'InvalidPaginationToken',
      'The specified pagination token is not valid or is expired.',
    );
  }
  return Number(match[1]);
}

function encodeToken(offset: number): string {
  return Buffer.from(`sgpods-page-${offset}`, 'latin1').toString('base64url');
}

export function maxResultsOf(params: QueryParams, bounds: PageBounds): number | undefined {
  const maxResults = params.integer('MaxResults');
  if (maxResults === undefined) return undefined;
  if (maxResults < bounds.min) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value greater than ${bounds.min - 1}.`,
    );
  }
  if (maxResults > bounds.max) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value less than ${bounds.max + 1}.`,
    );
  }
  return maxResults;
}

/** One page of `items` (all of them when no `MaxResults` is given). */
export function paginate<T>(items: readonly T[], params: QueryParams, bounds: PageBounds): Page<T> {
  const maxResults = maxResultsOf(params, bounds);
  const token = params.get('NextToken');
  const offset = token ? decodeToken(token) : 0;
  const limit = maxResults ?? (token ? bounds.max : items.length);
  const page = items.slice(offset, offset + limit);
  const next = offset + page.length;
  return next < items.length ? { items: page, nextToken: encodeToken(next) } : { items: page };
}
