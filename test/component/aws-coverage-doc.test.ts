/** docs/aws-coverage.md says exactly which actions the cloud serves, service by service. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ec2Actions } from '../../src/servers/cloud/ec2/ec2-actions.js';
import { eksOperations } from '../../src/servers/cloud/eks/eks-api.js';
import { iamActions } from '../../src/servers/cloud/iam/iam-actions.js';
import { rdsActions } from '../../src/servers/cloud/rds/rds-actions.js';
import { repoRoot } from '../support/run-cli.js';

const text = readFileSync(`${repoRoot}/docs/aws-coverage.md`, 'utf8');

function documentedStatuses(service: string): Map<string, string> {
  const start = text.indexOf(`## ${service}\n`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const statuses = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const [, operations, status] = cells;
    if (!operations || !status || !/^[A-Z]/.test(operations)) continue;
    for (const operation of operations.split(',')) statuses.set(operation.trim(), status);
  }
  return statuses;
}

const services: [string, readonly string[]][] = [
  ['EC2', Object.keys(ec2Actions)],
  ['RDS', Object.keys(rdsActions)],
  ['EKS', eksOperations],
  ['IAM', Object.keys(iamActions)],
];

describe('docs/aws-coverage.md', () => {
  it.each(services)(
    'lists every served %s action as implemented or partial, and nothing else as served',
    (service, served) => {
      const documented = documentedStatuses(service);
      expect(documented.size).toBeGreaterThan(0);
      for (const action of served) {
        expect(['implemented', 'partial'], action).toContain(documented.get(action));
      }
      for (const [operation, status] of documented) {
        if (status !== 'not yet') expect(served, operation).toContain(operation);
        expect(['implemented', 'partial', 'not yet']).toContain(status);
      }
    },
  );
});
