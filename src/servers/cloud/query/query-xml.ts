/**
 * The XML of AWS's `query` protocol (RDS, IAM): `<ActionResponse xmlns=…><ActionResult>…
 * </ActionResult><ResponseMetadata><RequestId>…` and `<ErrorResponse>` errors. Unlike EC2, list
 * members are named by the service model (`<DBInstance>`, `<Subnet>`, `<member>`): a wrong name
 * makes the SDK return an empty list, so every list says its member name (`XmlList`).
 */
import XMLBuilder from 'fast-xml-builder';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
});

/** A list whose items are rendered as `<member>` elements of the given name. */
export class XmlList {
  constructor(
    readonly member: string,
    readonly items: readonly QueryValue[],
  ) {}
}

export type QueryValue =
  string | number | boolean | null | undefined | XmlList | { readonly [key: string]: QueryValue };

export function xmlList(member: string, items: readonly QueryValue[]): XmlList {
  return new XmlList(member, items);
}

function toBuilder(value: QueryValue): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  if (value instanceof XmlList) {
    return value.items.length === 0 ? '' : { [value.member]: value.items.map(toBuilder) };
  }
  const object: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const converted = toBuilder(item);
    if (converted !== undefined) object[key] = converted;
  }
  return object;
}

/** A success document; `result` undefined for actions without output (no `<XResult>`). */
export function queryResponseXml(
  action: string,
  namespace: string,
  requestId: string,
  result: Record<string, QueryValue> | undefined,
): string {
  const content: Record<string, unknown> = { '@_xmlns': namespace };
  if (result !== undefined) content[`${action}Result`] = toBuilder(result) ?? '';
  content.ResponseMetadata = { RequestId: requestId };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [`${action}Response`]: content })}`;
}

export function queryErrorXml(
  namespace: string,
  type: 'Sender' | 'Receiver',
  code: string,
  message: string,
  requestId: string,
): string {
  const document = {
    ErrorResponse: {
      '@_xmlns': namespace,
      Error: { Type: type, Code: code, Message: message },
      RequestId: requestId,
    },
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(document)}`;
}
