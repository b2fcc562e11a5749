// Entry point of the API process: `npm run api` (tsx) or `node dist/src/api/main.js`.
import { loadConfig } from '../config/config.js';
import { loadProjectPolicies } from '../config/project-policy.js';
import { createLogger } from '../logging/logger.js';
import { createSnapshotService } from '../service/snapshot-service.js';
import { createLeaseService } from '../service/lease-service.js';
import { connectClient } from '../temporal/connect-client.js';
import { describeTemporalConnection } from '../temporal/connection-options.js';
import { ensureSearchAttributes } from '../service/ensure-search-attributes.js';
import { createApiServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'snapkeeper-api' });
  const policies = await loadProjectPolicies(config.policyFile);
  if (!config.api.token) {
    log.warn('SNAPKEEPER_API_TOKEN is not set: /v1 accepts requests without authentication');
  }
  if (!config.github.webhookSecret) {
    log.warn('GITHUB_WEBHOOK_SECRET is not set: /webhooks/github refuses every delivery with 503');
  }

  const { namespace } = config.temporal;
  const { connection, client } = await connectClient(config);
  try {
    // Listings query the search attributes; workers register them too, this only spares a fresh
    // cluster a failing /v1/snapshots before the first worker starts.
    await ensureSearchAttributes(connection, namespace);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not check the search attributes');
  }
  const service = createSnapshotService({
    client,
    defaultTtlSeconds: config.defaultTtlSeconds,
    lookupRecordIntervalMs: config.lookupRecordIntervalMs,
    pullRequestWorkflowOptions: { lookDelaysSeconds: config.mergeLookDelaysSeconds },
  });
  const leases = createLeaseService({ client });
  const app = createApiServer({ config, service, client, policies, log, leases });

  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'api shutting down');
    app
      .close()
      .then(() => connection.close())
      .then(
        () => {
          log.info('api stopped');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, 'api shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const url = await app.listen({ host: config.api.listenHost, port: config.api.port });
  log.info(
    {
      url,
      temporal: describeTemporalConnection(config.temporal),
      hostId: config.hostId,
      auth: config.api.token ? 'bearer' : 'none',
    },
    'api listening',
  );
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`snapkeeper api failed: ${message}\n`);
  process.exit(1);
});
