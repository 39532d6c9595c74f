/**
 * Typed errors with stable codes. Every code here is documented in docs/errors.md; a test keeps
 * the two in sync. Errors that mirror a foreign API (EC2, Kubernetes) also carry the wire code or
 * reason that API gives, so servers can answer exactly as AWS or Kubernetes would.
 */

export const errorCodes = {
  SGPODS_INPUT_INVALID: 'Input given to a command is malformed or inconsistent (exit code 2).',
  SGPODS_EC2_INVALID_REQUEST:
    'An EC2 request is rejected; `awsCode` carries the EC2 error code (InvalidPermission.Duplicate, ...).',
  SGPODS_AWS_INVALID_REQUEST:
    "An RDS, IAM or EKS request is rejected; `awsCode` carries that service's error code (DBInstanceNotFound, NoSuchEntity, ...).",
  SGPODS_KUBE_STATUS:
    'A Kubernetes API request is refused; `reason` and `httpStatus` are the Status the API server answers with (NotFound 404, Conflict 409, ...).',
  SGPODS_KUBE_INVALID:
    'A Kubernetes object fails validation; `causes` lists field errors worded as the API server words them.',
  SGPODS_ANNOTATION_INVALID: 'A vpc.amazonaws.com/pod-eni annotation cannot be decoded.',
  SGPODS_COMMAND_FAILED:
    'A system command (ip, nft, sysctl, ...) failed or timed out; `argv`, `exitCode` and `stderr` say which and why.',
  SGPODS_FLOW_LOG_UNREADABLE:
    "The router's NFLOG capture is not the pcap stream flow logs read (link type 239, little-endian).",
  SGPODS_DASHBOARD_NOT_BUILT:
    "The dashboard's page (dist/dashboard) is missing: the front end was not built (npm run build).",
  SGPODS_INTERNAL: 'A broken invariant inside sgpods: a bug to report.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface SgpodsErrorOptions {
  readonly cause?: unknown;
}

/** Base of every error sgpods throws on purpose. */
export class SgpodsError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: SgpodsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad user input: a command line, a file, a request body. */
export class InputError extends SgpodsError {
  constructor(message: string, options: SgpodsErrorOptions = {}) {
    super('SGPODS_INPUT_INVALID', message, options);
  }
}

/** An EC2 API error, with the code EC2 itself returns (HTTP 400 unless `httpStatus` says otherwise). */
export class Ec2RequestError extends SgpodsError {
  readonly awsCode: string;
  readonly httpStatus: number;

  constructor(awsCode: string, message: string, httpStatus = 400) {
    super('SGPODS_EC2_INVALID_REQUEST', message);
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
  }
}

/**
 * An error of an AWS API other than EC2 (RDS and IAM over the query protocol, EKS over
 * rest-json), with the code and HTTP status that service uses; `type` is the query protocol's
 * `Sender` (the caller's fault) or `Receiver`.
 */
export class AwsServiceError extends SgpodsError {
  readonly awsCode: string;
  readonly httpStatus: number;
  readonly type: 'Sender' | 'Receiver';

  constructor(awsCode: string, message: string, httpStatus = 400) {
    super('SGPODS_AWS_INVALID_REQUEST', message);
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
    this.type = httpStatus >= 500 ? 'Receiver' : 'Sender';
  }
}

/** A Kubernetes API refusal, answered as a `Status` with this reason and code. */
export class KubeStatusError extends SgpodsError {
  constructor(
    readonly reason: string,
    readonly httpStatus: number,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super('SGPODS_KUBE_STATUS', message);
  }
}

/** One field error, as Kubernetes `field.Error` renders it: `<field>: <type>: <detail>`. */
export interface FieldError {
  readonly field: string;
  readonly type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueForbidden'
    | 'FieldValueTypeInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueTooMany'
    | 'FieldValueDuplicate';
  readonly message: string;
}

/** A Kubernetes object is invalid (Status reason `Invalid`, HTTP 422). */
export class KubeValidationError extends SgpodsError {
  readonly causes: readonly FieldError[];

  constructor(summary: string, causes: readonly FieldError[]) {
    super('SGPODS_KUBE_INVALID', `${summary}: ${causes.map((c) => c.message).join(', ')}`);
    this.causes = causes;
  }
}

export class AnnotationError extends SgpodsError {
  constructor(message: string) {
    super('SGPODS_ANNOTATION_INVALID', message);
  }
}

/** A system command failed: the dataplane keeps the change pending and retries or fails closed. */
export class CommandError extends SgpodsError {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(
    argv: readonly string[],
    exitCode: number | null,
    stderr: string,
    options: SgpodsErrorOptions = {},
  ) {
    const status = exitCode === null ? 'did not finish' : `exited ${exitCode}`;
    super(
      'SGPODS_COMMAND_FAILED',
      `${argv.join(' ')} ${status}: ${stderr.trim().split('\n').slice(0, 5).join(' | ')}`,
      options,
    );
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A broken invariant. Never expected; reported with a stack under --debug. */
export class InternalError extends SgpodsError {
  constructor(message: string, options: SgpodsErrorOptions = {}) {
    super('SGPODS_INTERNAL', message, options);
  }
}
