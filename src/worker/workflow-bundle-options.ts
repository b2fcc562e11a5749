import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';

type WebpackHook = NonNullable<WorkerOptions['bundlerOptions']>['webpackConfigHook'];

/** The workflow entry point, as source when run by tsx and as JavaScript when built. */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url)).replace(
  /\.js$/,
  import.meta.url.endsWith('.ts') ? '.ts' : '.js',
);

// Sources import each other with NodeNext's ".js" suffix; webpack must find the ".ts" file behind it.
export const webpackConfigHook: WebpackHook = (config) => {
  config.resolve = {
    ...config.resolve,
    extensionAlias: { '.js': ['.ts', '.js'] },
  };
  return config;
};
