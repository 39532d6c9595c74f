/**
 * Fault injection for tests, kept in the home's database so any process (a test, `sgpods faults`)
 * can arm it while the cloud runs: make an action (or `*`) fail with a chosen AWS error a given
 * number of times, and/or answer after a delay. Off by default: a home has no faults until one is
 * added.
 */
import type { CloudDatabase } from './cloud-database.js';

export interface FaultSpec {
  /** An EC2 action name (`AuthorizeSecurityGroupIngress`) or `*` for every action. */
  readonly action: string;
  /** The AWS error code to answer with; none for a latency-only fault. */
  readonly errorCode?: string;
  readonly message?: string;
  readonly httpStatus?: number;
  /** How many calls the fault hits; unlimited when absent. */
  readonly times?: number;
  readonly latencyMs?: number;
}

export interface Fault extends FaultSpec {
  readonly faultId: number;
  readonly message: string;
  readonly httpStatus: number;
  readonly latencyMs: number;
}

export interface InjectedFault {
  readonly latencyMs: number;
  readonly error?: { readonly code: string; readonly message: string; readonly httpStatus: number };
}

/** Statuses AWS uses for the errors tests usually inject (throttling and server faults are 5xx). */
const defaultStatuses: Readonly<Record<string, number>> = {
  RequestLimitExceeded: 503,
  Throttling: 400,
  Unavailable: 503,
  ServiceUnavailable: 503,
  InternalError: 500,
  InternalFailure: 500,
};

const defaultMessages: Readonly<Record<string, string>> = {
  RequestLimitExceeded: 'Request limit exceeded.',
  InternalError: 'An internal error has occurred.',
  Unavailable: 'The service is unavailable. Please try again shortly.',
};

type Raw = Record<string, unknown>;

function faultOf(raw: Raw): Fault {
  const errorCode = typeof raw.error_code === 'string' ? raw.error_code : undefined;
  return {
    faultId: Number(raw.fault_id),
    action: String(raw.action),
    ...(errorCode ? { errorCode } : {}),
    message: String(raw.message),
    httpStatus: Number(raw.http_status),
    ...(raw.remaining === null ? {} : { times: Number(raw.remaining) }),
    latencyMs: Number(raw.latency_ms),
  };
}

export class FaultStore {
  constructor(private readonly database: CloudDatabase) {}

  add(spec: FaultSpec): Fault {
    const code = spec.errorCode;
    const row = this.database
      .prepare(
        `INSERT INTO faults (action, error_code, message, http_status, remaining, latency_ms)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        spec.action,
        code ?? null,
        spec.message ?? (code ? (defaultMessages[code] ?? `Injected fault: ${code}`) : ''),
        spec.httpStatus ?? (code ? (defaultStatuses[code] ?? 400) : 200),
        spec.times ?? null,
        spec.latencyMs ?? 0,
      ) as Raw;
    return faultOf(row);
  }

  list(): Fault[] {
    return (this.database.prepare('SELECT * FROM faults ORDER BY fault_id').all() as Raw[]).map(
      faultOf,
    );
  }

  clear(): number {
    return this.database.prepare('DELETE FROM faults').run().changes;
  }

  /** The fault one call of `action` meets (the oldest armed one), using up one of its times. */
  take(action: string): InjectedFault | undefined {
    return this.database.transaction(() => {
      const raw = this.database
        .prepare(
          `SELECT * FROM faults WHERE action IN (?, '*') AND (remaining IS NULL OR remaining > 0)
           ORDER BY fault_id LIMIT 1`,
        )
        .get(action) as Raw | undefined;
      if (!raw) return undefined;
      const fault = faultOf(raw);
      if (fault.times !== undefined) {
        if (fault.times <= 1) {
          this.database.prepare('DELETE FROM faults WHERE fault_id = ?').run(fault.faultId);
        } else {
          this.database
            .prepare('UPDATE faults SET remaining = remaining - 1 WHERE fault_id = ?')
            .run(fault.faultId);
        }
      }
      return {
        latencyMs: fault.latencyMs,
        ...(fault.errorCode
          ? {
              error: {
                code: fault.errorCode,
                message: fault.message,
                httpStatus: fault.httpStatus,
              },
            }
          : {}),
      };
    })();
  }
}
