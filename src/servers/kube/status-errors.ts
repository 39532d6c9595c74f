/**
 * Kubernetes `Status` errors: the reasons and codes the API server answers with, and the
 * messages kubectl prints after `Error from server (<reason>):`.
 */
import { KubeStatusError, type FieldError } from '../../core/errors.js';
import type { ResourceType } from './kube-resources.js';
import { StorageConflict } from './storage/kube-store.js';

/** `pods`, `deployments.apps`: how messages name a resource. */
export function qualifiedResource(type: ResourceType): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

function detailsOf(type: ResourceType, name: string): Record<string, unknown> {
  return { name, group: type.group || undefined, kind: type.resource };
}

export function statusBody(error: KubeStatusError): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    details: error.details,
    code: error.httpStatus,
  };
}

export function notFound(type: ResourceType, name: string): KubeStatusError {
  return new KubeStatusError(
    'NotFound',
    404,
    `${qualifiedResource(type)} "${name}" not found`,
    detailsOf(type, name),
  );
}

export function methodNotAllowed(): KubeStatusError {
  return new KubeStatusError(
    'MethodNotAllowed',
    405,
    'the server does not allow this method on the requested resource',
  );
}

export function resourceNotFound(): KubeStatusError {
  return new KubeStatusError('NotFound', 404, 'the server could not find the requested resource');
}

/** 422 Invalid, as apiserver renders `field.ErrorList`: `Kind "name" is invalid: [a, b]`. */
export function invalid(
  type: ResourceType,
  name: string,
  causes: readonly FieldError[],
): KubeStatusError {
  const kind = type.group ? `${type.kind}.${type.group}` : type.kind;
  const messages = causes.map((cause) => cause.message);
  const summary = messages.length === 1 ? (messages[0] ?? '') : `[${messages.join(', ')}]`;
  return new KubeStatusError('Invalid', 422, `${kind} "${name}" is invalid: ${summary}`, {
    name,
    group: type.group || undefined,
    kind: type.kind,
    causes: causes.map((cause) => ({
      reason: cause.type,
      message: cause.message.slice(cause.field.length + 2),
      field: cause.field,
    })),
  });
}

/** A refused storage write as the Status it answers with; other errors pass through. */
export function storageError(error: unknown, type: ResourceType, name: string): unknown {
  if (!(error instanceof StorageConflict)) return error;
  if (error.reason === 'NotFound') return notFound(type, name);
  const qualified = qualifiedResource(type);
  if (error.reason === 'AlreadyExists') {
    return new KubeStatusError(
      'AlreadyExists',
      409,
      `${qualified} "${name}" already exists`,
      detailsOf(type, name),
    );
  }
  return new KubeStatusError(
    'Conflict',
    409,
    `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(type, name),
  );
}
