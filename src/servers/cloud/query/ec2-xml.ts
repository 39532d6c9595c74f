/**
 * EC2's XML: `<ActionResponse xmlns=…><requestId>…</requestId>…</ActionResponse>`, lists as
 * `<item>`, booleans lowercase, and errors as `<Response><Errors><Error>…` with a non-2xx status
 * (see reference/ec2.md: both clients accept an error sent with 200 as success).
 */
import XMLBuilder from 'fast-xml-builder';

const ec2Namespace = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
});

/** A value of an EC2 response: scalars, lists (rendered as `<item>`), nested structures. */
export type XmlValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly XmlValue[]
  | { readonly [key: string]: XmlValue };

function toBuilder(value: XmlValue): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '' : { item: value.map(toBuilder) };
  const object: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, XmlValue>)) {
    const converted = toBuilder(item);
    if (converted !== undefined) object[key] = converted;
  }
  return object;
}

export function ec2ResponseXml(
  action: string,
  requestId: string,
  body: Record<string, XmlValue>,
): string {
  const content = {
    '@_xmlns': ec2Namespace,
    requestId,
    ...(toBuilder(body) as Record<string, unknown>),
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [`${action}Response`]: content })}`;
}

export function ec2ErrorXml(code: string, message: string, requestId: string): string {
  const document = {
    Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId },
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(document)}`;
}
