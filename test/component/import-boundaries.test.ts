/**
 * The import-boundary lint rules can fail: a core file doing I/O, an adapter importing the CLI,
 * are each reported. (eslint's Node API on in-memory text, with the project's config.)
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';

const boundaryRules = [
  'no-restricted-imports',
  'no-restricted-globals',
  'no-restricted-properties',
];
// Type-aware parsing needs files on disk; the boundary rules do not, so only they run here.
const eslint = new ESLint({
  cwd: repoRoot,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => boundaryRules.includes(ruleId),
});

async function ruleIdsFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
}

describe('import boundaries', () => {
  it('keeps src/core free of I/O, clocks and randomness', async () => {
    expect(
      await ruleIdsFor(
        'src/core/sg/example.ts',
        "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
      ),
    ).toContain('no-restricted-imports');
    expect(
      await ruleIdsFor(
        'src/core/sg/example.ts',
        "import { spawn } from 'child_process';\nexport const x = spawn;\n",
      ),
    ).toContain('no-restricted-imports');
    expect(
      await ruleIdsFor('src/core/sg/example.ts', 'export const now = (): number => Date.now();\n'),
    ).toContain('no-restricted-globals');
    expect(
      await ruleIdsFor('src/core/sg/example.ts', 'export const r = (): number => Math.random();\n'),
    ).toContain('no-restricted-properties');
  });

  it('lets imports point one way only', async () => {
    expect(
      await ruleIdsFor(
        'src/core/sg/example.ts',
        "import { x } from '../../adapters/ec2/y.js';\nexport const z = x;\n",
      ),
    ).toContain('no-restricted-imports');
    expect(
      await ruleIdsFor(
        'src/adapters/ec2/example.ts',
        "import { x } from '../../cli/y.js';\nexport const z = x;\n",
      ),
    ).toContain('no-restricted-imports');
    expect(
      await ruleIdsFor(
        'src/servers/cloud/example.ts',
        "import { x } from '../../cli/y.js';\nexport const z = x;\n",
      ),
    ).toContain('no-restricted-imports');
  });

  it('allows the direction the layers point', async () => {
    const ids = await ruleIdsFor(
      'src/adapters/ec2/example.ts',
      "import { InputError } from '../../core/errors.js';\nexport const z = InputError;\n",
    );
    expect(ids).not.toContain('no-restricted-imports');
  });
});
