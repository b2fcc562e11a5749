export { benchTimerWorkflow } from './ttl-timer-workflow.js';
export { benchSignalWorkflow } from './signal-floor-workflow.js';
