/**
 * Request bodies: read with a size limit (413 beyond it), decoded as JSON, YAML or the protobuf
 * `kubectl create` sends; anything unreadable is 400 BadRequest.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { readLimitedBody } from '../../adapters/http/read-body.js';
import { KubeStatusError } from '../../core/errors.js';
import { decodeProtobufBody, protobufMediaType } from './protobuf-body.js';
import type { KubeObject } from './storage/kube-store.js';

export const maxBodyBytes = 3 * 1024 * 1024;

export function mediaTypeOf(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
  return readLimitedBody(
    request,
    maxBodyBytes,
    () => new KubeStatusError('RequestEntityTooLarge', 413, 'request entity too large'),
  );
}

function unreadable(detail: string): KubeStatusError {
  return new KubeStatusError(
    'BadRequest',
    400,
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (${detail})`,
  );
}

/** A JSON object; anything else (an array, a number, broken text) is 400. */
export function parseJsonObject(body: string): KubeObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw unreadable(error instanceof Error ? error.message : String(error));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw unreadable('the body is not a JSON object');
  }
  return parsed as KubeObject;
}

/** A YAML (or JSON) mapping; anything else is 400. */
export function parseYamlObject(body: string): KubeObject {
  let parsed: unknown;
  try {
    parsed = parseYaml(body, { maxAliasCount: 100 });
  } catch (error) {
    throw unreadable(error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw unreadable('the body is not a YAML mapping');
  }
  return parsed as KubeObject;
}

/** The object a create or update carries. */
export async function bodyObject(request: IncomingMessage): Promise<KubeObject> {
  const body = await readBody(request);
  const mediaType = mediaTypeOf(request);
  if (mediaType === protobufMediaType) return decodeProtobufBody(body);
  if (mediaType === 'application/yaml') return parseYamlObject(body.toString('utf8'));
  return parseJsonObject(body.toString('utf8'));
}

/** A DELETE's optional DeleteOptions body. */
export async function deleteOptionsOf(request: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(request);
  if (body.length === 0) return {};
  return parseJsonObject(body.toString('utf8'));
}
