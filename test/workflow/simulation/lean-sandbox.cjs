'use strict';
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: threads inherit --require, not --import */
// Preloaded into every process of the workflow vitest project and every thread they start
// (vitest.config.ts, execArgv `--require`; a thread inherits it), the Temporal SDK's workflow threads
// included. It does nothing unless SNAPKEEPER_LEAN_SANDBOX=1 when a thread starts or a call is made:
// the protocol simulation sets it (sim-system.ts), before its workers and its replay worker exist.
//
// Then the SDK's deadlock detector is off, in this test process only: the SDK enters the sandbox
// (several times per activation) through vm's runInContext with a `timeout`, and Node starts and
// joins a watchdog thread for every such call. Replaying the release fixtures 20 times over here,
// that was 27 to 30 % of the replay's wall time and 12 to 15 % of its CPU. Without it a workflow
// stuck in a loop shows as a step without an answer (the simulation's deadline) instead of a failed
// workflow task; the workflow code, its histories and what the simulation checks are the same, and
// production workers keep the detector.
//
// Not also the stack-trace query's promise hook, though it costs as much: with promise hooks on,
// V8 schedules `await` differently, and without the hook the release fixtures fail to replay
// (nondeterminism): the sandbox must run as production runs it.
const process = require('node:process');
const vm = require('node:vm');

const lean = () => process.env.SNAPKEEPER_LEAN_SANDBOX === '1';

const runInContext = vm.Script.prototype.runInContext;
vm.Script.prototype.runInContext = function leanRunInContext(context, options) {
  if (options && options.timeout !== undefined && lean()) {
    const rest = { ...options };
    delete rest.timeout;
    return runInContext.call(this, context, rest);
  }
  return runInContext.call(this, context, options);
};
