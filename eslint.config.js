import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers of src/ and which way their imports may point (docs/design.md draws them):
//   contract ← workflows, activities, docker, service, api, cli, config
//   workflows: deterministic; the contract, @temporalio/workflow, pure helpers, activity *types*
//   activities → contract, docker, logging, config, service (their client-side calls)
//   service (client-side Temporal calls) → contract, config, temporal; workflow *types* for typed starts
//   api → service;  cli → service, docker (explain reads an engine);  worker wires everything.
// packages/client (@snapkeeper/client, what routers install) imports nothing but its own modules:
// the service may import it (src/index.ts re-exports it), never the other way round.
const SRC_LAYERS = [
  'activities',
  'api',
  'cli',
  'config',
  'contract',
  'docker',
  'logging',
  'service',
  'temporal',
  'worker',
  'workflows',
];

/** A relative import that reaches into one of these layers of src/ from another layer. */
function into(layers) {
  return `^(\\.\\./)+(${layers.join('|')})/`;
}

/** A relative import into any layer of src/ except these. */
function intoAnyBut(allowed) {
  return into(SRC_LAYERS.filter((l) => !allowed.includes(l)));
}

/** A package import (not relative) other than these. */
function packageOtherThan(packages) {
  return `^(?!\\.|${packages.map((p) => p.replace(/[/.]/g, '\\$&')).join('$|')}$)`;
}

function boundary(files, patterns) {
  return { files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

const WORKFLOW_SAFE_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  boundary(
    ['src/contract/**'],
    [
      {
        regex: '^\\.\\./',
        message: 'src/contract is the neutral bottom layer: it imports nothing else of src/.',
      },
      {
        regex: packageOtherThan(WORKFLOW_SAFE_PACKAGES),
        message:
          'src/contract is bundled into workflow code: only @temporalio/workflow and @temporalio/common.',
      },
    ],
  ),
  boundary(
    ['src/workflows/**'],
    [
      {
        regex: intoAnyBut(['contract', 'activities']),
        message: 'Workflow code is deterministic: it imports the contract and pure helpers only.',
      },
      {
        regex: into(['activities']),
        allowTypeImports: true,
        message:
          'Workflows import activity types only (`import type`), and call them through proxyActivities.',
      },
      {
        regex: packageOtherThan(WORKFLOW_SAFE_PACKAGES),
        message:
          'Workflow code runs in the deterministic sandbox: only @temporalio/workflow and @temporalio/common.',
      },
    ],
  ),
  boundary(
    ['src/activities/**'],
    [
      {
        regex: intoAnyBut(['contract', 'docker', 'logging', 'config', 'service']),
        message:
          'Activities take the contract, the Docker port, logging and client-side service calls; never workflows, the worker, the API or the CLI.',
      },
    ],
  ),
  boundary(
    ['src/docker/**'],
    [{ regex: intoAnyBut(['contract']), message: 'The Docker layer knows the contract only.' }],
  ),
  boundary(
    ['src/service/**'],
    [
      {
        regex: intoAnyBut(['contract', 'config', 'temporal', 'workflows']),
        message:
          'The service layer (client-side Temporal calls) builds on the contract, config and temporal only.',
      },
      {
        regex: into(['workflows']),
        allowTypeImports: true,
        message:
          'The service layer may name workflow types for typed starts (`import type`), never workflow code.',
      },
    ],
  ),
  boundary(
    ['src/api/**'],
    [
      {
        regex: intoAnyBut(['contract', 'config', 'logging', 'service', 'temporal']),
        message:
          'The API calls the service layer; it never imports the worker, activities, workflows or the CLI.',
      },
    ],
  ),
  boundary(
    ['src/cli/**'],
    [
      {
        // docker: `snapkeeper explain` reads the image on an engine (inspect and list only).
        regex: intoAnyBut(['contract', 'config', 'docker', 'service', 'temporal']),
        message:
          'The CLI uses the service layer and the contract; never the worker, activities or workflows.',
      },
    ],
  ),
  boundary(
    ['packages/client/**'],
    [
      {
        regex: '^(?!\\./)',
        message:
          'The client package is what routers install alone: it imports only its own modules (no src/, no packages; dockerode only through loadDocker).',
      },
    ],
  ),
  boundary(
    ['src/config/**', 'src/logging/**', 'src/temporal/**'],
    [
      {
        regex: intoAnyBut(['contract', 'config']),
        message: 'Configuration, logging and the Temporal connection sit below every other layer.',
      },
    ],
  ),
  boundary(
    ['src/index.ts'],
    [
      {
        regex: '^(?!@snapkeeper/client$|\\./contract/)',
        message: 'The package entry re-exports the client package and the contract only.',
      },
    ],
  ),
);
