// The implementation is shared with `npm run dev` (scripts/dev.ts).
export type { DockerEngine, StartDockerEngineOptions } from '../../scripts/lib/docker-engine.js';
export { startDockerEngine } from '../../scripts/lib/docker-engine.js';
