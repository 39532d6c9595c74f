/** docs/errors.md and the code agree: every code is documented, every documented code exists. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/core/errors.js';
import { repoRoot } from '../support/run-cli.js';

const doc = readFileSync(join(repoRoot, 'docs/errors.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The text of a call's first argument: up to the first comma outside brackets and quotes. */
function firstArgument(text: string): string {
  let depth = 0;
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (quote) {
      if (char === '\\') index += 1;
      else if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"' || char === '`') quote = char;
    else if (char === '(' || char === '[' || char === '{') depth += 1;
    else if (char === ')' || char === ']' || char === '}') {
      if (depth === 0) return text.slice(0, index);
      depth -= 1;
    } else if (char === ',' && depth === 0) return text.slice(0, index);
  }
  return text;
}

/** AWS codes written as the code argument of `new Ec2RequestError(...)`, `new AwsAuthError(...)` or `new AwsServiceError(...)`. */
function awsCodesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const file of sourceFiles(join(repoRoot, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(
      /new (?:Ec2RequestError|AwsAuthError|AwsServiceError)\((?=([\s\S]{0,300}))/g,
    )) {
      const code = firstArgument(match[1] ?? '');
      for (const literal of code.matchAll(/'([A-Z][A-Za-z]+(?:\.[A-Z][A-Za-z]+)?)'/g)) {
        if (literal[1]) codes.add(literal[1]);
      }
    }
  }
  return codes;
}

describe('docs/errors.md', () => {
  it('documents exactly the sgpods codes of src/core/errors.ts', () => {
    const documented = new Set(
      [...doc.matchAll(/^\|\s*`(SGPODS_[A-Z0-9_]+)`\s*\|/gm)].map((match) => match[1]),
    );
    expect([...documented].sort()).toEqual(Object.keys(errorCodes).sort());
  });

  it('documents every AWS code the source raises, and no other', () => {
    const section = doc.slice(
      doc.indexOf('## EC2 codes produced by the core'),
      doc.indexOf('## Kubernetes API server'),
    );
    const documented = new Set(
      [...section.matchAll(/^\|\s*`([A-Za-z.]+)`\s*\|/gm)].map((match) => match[1]),
    );
    const raised = awsCodesInSource();
    expect(raised.size).toBeGreaterThan(5);
    expect([...documented].sort()).toEqual([...raised].sort());
  });

  it('documents every Kubernetes Status reason the API server answers with, and no other', () => {
    const section = doc.slice(
      doc.indexOf('## Kubernetes API server'),
      doc.indexOf('## Exit codes'),
    );
    const documented = new Set(
      [...section.matchAll(/^\|\s*`([A-Za-z]+)`\s*\|/gm)].map((match) => match[1]),
    );
    const raised = new Set<string>();
    for (const file of sourceFiles(join(repoRoot, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/new KubeStatusError\(\s*'([A-Za-z]+)'/g)) {
        if (match[1]) raised.add(match[1]);
      }
    }
    expect(raised.size).toBeGreaterThan(5);
    expect([...documented].sort()).toEqual([...raised].sort());
  });
});
