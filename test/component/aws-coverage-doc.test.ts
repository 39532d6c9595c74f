/** docs/aws-coverage.md says exactly which EC2 actions the cloud serves. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ec2Actions } from '../../src/servers/cloud/ec2/ec2-actions.js';
import { repoRoot } from '../support/run-cli.js';

function documentedStatuses(): Map<string, string> {
  const text = readFileSync(`${repoRoot}/docs/aws-coverage.md`, 'utf8');
  const section = text.slice(text.indexOf('## EC2'), text.indexOf('## Error texts'));
  const statuses = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const [, operations, status] = cells;
    if (!operations || !status || !/^[A-Z]/.test(operations)) continue;
    for (const operation of operations.split(',')) statuses.set(operation.trim(), status);
  }
  return statuses;
}

describe('docs/aws-coverage.md', () => {
  it('lists every served EC2 action as implemented or partial, and nothing else as served', () => {
    const documented = documentedStatuses();
    for (const action of Object.keys(ec2Actions)) {
      expect(['implemented', 'partial'], action).toContain(documented.get(action));
    }
    for (const [operation, status] of documented) {
      if (status !== 'not yet') expect(Object.keys(ec2Actions), operation).toContain(operation);
      expect(['implemented', 'partial', 'not yet']).toContain(status);
    }
  });
});
