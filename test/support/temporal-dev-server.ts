// The implementation is shared with `npm run dev` (scripts/dev.ts).
export type { DevServer, DevServerOptions } from '../../scripts/lib/temporal-dev-server.js';
export { startDevServer } from '../../scripts/lib/temporal-dev-server.js';
