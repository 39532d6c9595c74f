/** Typed access to the IAM tables: roles and the managed policies attached to them. */
import type { CloudDatabase } from './cloud-database.js';

export interface RoleRow {
  readonly roleName: string;
  readonly roleId: string;
  readonly path: string;
  readonly arn: string;
  /** The trust policy, as JSON text. */
  readonly assumeRolePolicy: string;
  readonly description?: string | undefined;
  readonly createdAt: string;
}

type Raw = Record<string, unknown>;
const text = (value: unknown): string => (typeof value === 'string' ? value : String(value));

function roleOf(raw: Raw): RoleRow {
  return {
    roleName: text(raw.role_name),
    roleId: text(raw.role_id),
    path: text(raw.path),
    arn: text(raw.arn),
    assumeRolePolicy: text(raw.assume_role_policy),
    description: raw.description === null ? undefined : text(raw.description),
    createdAt: text(raw.created_at),
  };
}

export class IamStore {
  readonly #statements;

  constructor(
    database: CloudDatabase,
    private readonly nextSeq: (name: string) => number,
  ) {
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      roles: prepare('SELECT * FROM iam_roles ORDER BY role_name'),
      role: prepare('SELECT * FROM iam_roles WHERE role_name = ?'),
      insertRole: prepare(
        `INSERT INTO iam_roles (role_name, role_id, path, arn, assume_role_policy, description,
           created_at, seq)
         VALUES (@roleName, @roleId, @path, @arn, @assumeRolePolicy, @description, @createdAt, @seq)`,
      ),
      policiesOf: prepare(
        'SELECT policy_arn FROM iam_role_policies WHERE role_name = ? ORDER BY seq',
      ),
      attach: prepare(
        `INSERT INTO iam_role_policies (role_name, policy_arn, seq) VALUES (?, ?, ?)
         ON CONFLICT(role_name, policy_arn) DO NOTHING`,
      ),
      detach: prepare('DELETE FROM iam_role_policies WHERE role_name = ? AND policy_arn = ?'),
    } as const;
  }

  roles(): RoleRow[] {
    return (this.#statements.roles.all() as Raw[]).map(roleOf);
  }

  /** The role of that name (IAM role names are unique without regard to case). */
  role(roleName: string): RoleRow | undefined {
    const row = this.#statements.role.get(roleName) as Raw | undefined;
    return row ? roleOf(row) : undefined;
  }

  insertRole(row: RoleRow): void {
    this.#statements.insertRole.run({
      ...row,
      description: row.description ?? null,
      seq: this.nextSeq('iam-role'),
    });
  }

  attachedPolicies(roleName: string): string[] {
    return (this.#statements.policiesOf.all(roleName) as Raw[]).map((raw) => text(raw.policy_arn));
  }

  attachPolicy(roleName: string, policyArn: string): void {
    this.#statements.attach.run(roleName, policyArn, this.nextSeq('iam-role-policy'));
  }

  /** False when the policy was not attached. */
  detachPolicy(roleName: string, policyArn: string): boolean {
    return this.#statements.detach.run(roleName, policyArn).changes > 0;
  }
}
