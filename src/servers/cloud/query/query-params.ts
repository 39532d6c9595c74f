/**
 * The parameters of an AWS query-protocol request (`Action=…&Version=…&Name.1=…`), decoded with
 * URLSearchParams (the CLI sends `+` for spaces, the SDK `%20`), with the list and filter shapes
 * EC2 uses: `ZoneName.1`, `Filter.1.Name`, `Filter.1.Value.1`.
 */
import { Ec2RequestError } from '../../../core/errors.js';

export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

export class QueryParams {
  readonly #values: ReadonlyMap<string, string>;

  constructor(body: string) {
    this.#values = new Map(new URLSearchParams(body));
  }

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  /** A parameter that must be present and non-empty, or EC2's MissingParameter. */
  required(name: string): string {
    const value = this.#values.get(name);
    if (value === undefined || value === '') {
      throw new Ec2RequestError(
        'MissingParameter',
        `The request must contain the parameter ${name}`,
      );
    }
    return value;
  }

  /** True when any parameter starts with `prefix` (`IpPermissions.1.` has members). */
  has(prefix: string): boolean {
    for (const key of this.#values.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** `Name.1`, `Name.2`, … in index order (gaps end the list, as in EC2). */
  list(prefix: string): string[] {
    const items: string[] = [];
    for (let index = 1; ; index++) {
      const value = this.#values.get(`${prefix}.${index}`);
      if (value === undefined) return items;
      items.push(value);
    }
  }

  filters(): Filter[] {
    const filters: Filter[] = [];
    for (let index = 1; ; index++) {
      const name = this.#values.get(`Filter.${index}.Name`);
      if (name === undefined) return filters;
      filters.push({ name, values: this.list(`Filter.${index}.Value`) });
    }
  }

  /** An integer parameter, or the EC2 error for a malformed one. */
  integer(name: string): number | undefined {
    const value = this.#values.get(name);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) {
      throw new Ec2RequestError('InvalidParameterValue', `Invalid value '${value}' for ${name}`);
    }
    return Number(value);
  }
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `*` any run, `?` one character, `\x` the character x itself (EC2's escape). */
function patternRegex(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern.charAt(index);
    if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      source += escapeRegex(pattern.charAt(index));
    } else if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += escapeRegex(char);
  }
  return new RegExp(`^${source}$`, 's');
}

/** A compiled EC2 filter (values ORed); plain values are compared exactly, without a regex. */
export function filterMatcher(filter: Filter): (value: string | undefined) => boolean {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const pattern of filter.values) {
    if (/[*?\\]/.test(pattern)) patterns.push(patternRegex(pattern));
    else exact.add(pattern);
  }
  return (value) =>
    value !== undefined && (exact.has(value) || patterns.some((regex) => regex.test(value)));
}

export function filterMatches(filter: Filter, value: string | undefined): boolean {
  return filterMatcher(filter)(value);
}
