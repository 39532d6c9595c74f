/**
 * PATCH bodies by content type: JSON merge patch (RFC 7386, what kubectl sends to custom
 * resources), JSON patch (RFC 6902, fast-json-patch) and strategic merge patch (what kubectl
 * sends to built-ins; strategic-merge-patch.ts), which custom resources refuse with 415.
 */
import jsonPatch from 'fast-json-patch';
import { KubeStatusError } from '../../core/errors.js';
import { parseJsonObject } from './request-body.js';
import {
  strategicMergePatch,
  StrategicMergeError,
  supportsStrategicMerge,
} from './strategic-merge-patch.js';
import type { KubeObject } from './storage/kube-store.js';

/** RFC 7386: objects merge, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result = new Map<string, unknown>(
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? Object.entries(target as Record<string, unknown>)
      : [],
  );
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) result.delete(key);
    else result.set(key, mergePatch(result.get(key), value));
  }
  return Object.fromEntries(result);
}

function jsonPatchFunction(body: string): (current: KubeObject) => KubeObject {
  let operations: unknown;
  try {
    operations = JSON.parse(body);
  } catch {
    operations = undefined;
  }
  if (!Array.isArray(operations)) {
    throw new KubeStatusError('BadRequest', 400, 'a JSON patch must be a JSON array of operations');
  }
  return (current) => {
    try {
      return jsonPatch.applyPatch(
        structuredClone(current),
        operations as jsonPatch.Operation[],
        true,
        false,
      ).newDocument;
    } catch (error) {
      throw new KubeStatusError(
        'Invalid',
        422,
        `the server rejected our request due to an error in our request: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
    }
  };
}

const acceptedPatchTypes =
  'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json';

function strategicPatchFunction(
  storageKey: string,
  body: string,
): (current: KubeObject) => KubeObject {
  if (!supportsStrategicMerge(storageKey)) {
    throw new KubeStatusError(
      'UnsupportedMediaType',
      415,
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json',
    );
  }
  const patch = parseJsonObject(body);
  return (current) => {
    try {
      return strategicMergePatch(storageKey, current, patch);
    } catch (error) {
      if (!(error instanceof StrategicMergeError)) throw error;
      throw new KubeStatusError('BadRequest', 400, error.message);
    }
  };
}

/** The change a PATCH body describes, by its content type; other types are 415. */
export function patchFunctionOf(
  contentType: string,
  body: string,
  storageKey: string,
): (current: KubeObject) => KubeObject {
  if (contentType === 'application/merge-patch+json') {
    const patch = parseJsonObject(body);
    return (current) => mergePatch(current, patch) as KubeObject;
  }
  if (contentType === 'application/json-patch+json') return jsonPatchFunction(body);
  if (contentType === 'application/strategic-merge-patch+json') {
    return strategicPatchFunction(storageKey, body);
  }
  throw new KubeStatusError(
    'UnsupportedMediaType',
    415,
    `the body of the request was in an unknown format - accepted media types include: ${acceptedPatchTypes}`,
  );
}
