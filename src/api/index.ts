export type { ApiServerDeps, ApiSnapshotService, ApiTemporalClient } from './deps.js';
export { HTTP_LIMITS } from './http-limits.js';
export { ApiError, STATUS_BY_ERROR_TYPE } from './errors.js';
export type { ErrorBody } from './errors.js';
export { createApiMetrics } from './metrics.js';
export type { ApiMetrics } from './metrics.js';
export { API_VERSION, createApiServer } from './server.js';
export type { ApiServer } from './server.js';
