// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);

/** Layers, innermost first. A layer may import only from the layers before it. */
const layers = ['core', 'adapters', 'controller|agent|servers', 'cli'];
const outerLayersOf = (index) =>
  layers
    .slice(index + 1)
    .flatMap((layer) => layer.split('|'))
    .map((name) => `**/${name}/**`);

/** @param {number} index */
const boundaryRule = (index, extra = {}) => ({
  'no-restricted-imports': [
    'error',
    {
      ...extra,
      patterns: [
        {
          group: outerLayersOf(index),
          message: `src/${layers[index]} must not import outer layers (core <- adapters <- controller/agent/servers <- cli).`,
        },
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  { languageOptions: { globals: globals.node } },
  {
    files: ['src/**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      complexity: ['error', 15],
      'max-params': ['error', 5],
    },
  },
  {
    // Tests use vitest's asymmetric matchers (typed any) and terse arrow assertions.
    files: ['src/**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      complexity: 'off',
    },
  },
  {
    // The core is pure: no I/O modules, no clock, no randomness, no environment.
    files: ['src/core/**/*.ts'],
    rules: {
      ...boundaryRule(0, {
        paths: nodeBuiltins.map((name) => ({
          name,
          message: 'src/core is pure: do I/O in src/adapters.',
        })),
      }),
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core is pure: pass configuration in.' },
        { name: 'Date', message: 'src/core is pure: pass the time in.' },
        { name: 'setTimeout', message: 'src/core is pure.' },
        { name: 'fetch', message: 'src/core is pure.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'src/core is pure: pass randomness in.' },
      ],
    },
  },
  {
    // The dashboard's page runs in the browser and shares only the pure core with the server.
    files: ['web/dashboard/**/*.{ts,tsx}'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `onClick={() => setState(x)}` is how event handlers read in JSX.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      complexity: ['error', 15],
      'max-params': ['error', 5],
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'the page runs in a browser.' })),
          patterns: [
            {
              group: [
                '**/src/adapters/**',
                '**/src/cli/**',
                '**/src/servers/**',
                '**/src/agent/**',
                '**/src/controller/**',
              ],
              message: 'the page may import only src/core (pure) from the server side.',
            },
          ],
        },
      ],
    },
  },
  { files: ['src/adapters/**/*.ts'], rules: boundaryRule(1) },
  {
    files: ['src/controller/**/*.ts', 'src/agent/**/*.ts', 'src/servers/**/*.ts'],
    rules: boundaryRule(2),
  },
);
