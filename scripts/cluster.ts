// `npm run cluster`: a production-shaped Temporal on this machine, the server on PostgreSQL as in
// docker-compose.temporal.yml (same server version, same settings from deploy/temporal/), for
// running snapkeeper against something closer to production than the dev server:
//
//   npm run cluster                      # prints TEMPORAL_ADDRESS=127.0.0.1:17233; Ctrl-C stops it
//   npm run cluster -- --mtls            # the frontend requires client certificates (made with openssl)
//   TEMPORAL_ADDRESS=127.0.0.1:17233 npm run dev
//
// State (PostgreSQL's data directory, the chosen ports, certificates) lives in .data/cluster (or
// SNAPKEEPER_CLUSTER_DIR), so workflows survive a restart of this script.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Certificates } from './lib/make-certificates.js';
import { makeCertificates } from './lib/make-certificates.js';
import { prefixLines } from './lib/prefix-lines.js';
import { repoPath } from './lib/repo-root.js';
import type { TemporalCluster } from './lib/temporal-cluster.js';
import { startTemporalCluster } from './lib/temporal-cluster.js';

const USAGE = `usage: npm run cluster [-- --port 17233] [--dir DIR] [--mtls]

  --port PORT   frontend gRPC port (default 17233, or SNAPKEEPER_CLUSTER_PORT)
  --dir DIR     state directory (default .data/cluster, or SNAPKEEPER_CLUSTER_DIR)
  --mtls        require client certificates; makes a CA and certificates in DIR/tls once
  --namespace NS  also create this namespace (repeatable)`;

const say = (message: string) => process.stdout.write(`cluster │ ${message}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      dir: { type: 'string' },
      mtls: { type: 'boolean' },
      namespace: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port ?? process.env.SNAPKEEPER_CLUSTER_PORT ?? 17233);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--port ${values.port} is not a port`);
  const dir = resolve(values.dir ?? process.env.SNAPKEEPER_CLUSTER_DIR ?? repoPath('.data', 'cluster'));

  let certificates: Certificates | undefined;
  if (values.mtls) {
    const tlsDir = join(dir, 'tls');
    certificates = existsSync(join(tlsDir, 'ca.pem'))
      ? reuseCertificates(tlsDir)
      : await makeCertificates(tlsDir, { days: 365, caName: 'snapkeeper local cluster CA' });
  }

  say(
    `starting PostgreSQL and the Temporal server (state in ${dir}); the first run builds the server (minutes)`,
  );
  // Set once started; a Ctrl-C during start-up finds nothing to stop yet (the children's guards end them).
  const started: { cluster?: TemporalCluster } = {};
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${signal})`);
    await started.cluster?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const cluster = await startTemporalCluster({
    dir,
    port,
    namespaces: values.namespace ?? [],
    ...(certificates ? { tls: certificates } : {}),
    detached: true,
    onLine: (() => {
      const pg = prefixLines('postgres', 0);
      const temporal = prefixLines('temporal', 1);
      return (line, stream, source) => (source === 'postgres' ? pg : temporal)(line, stream);
    })(),
  });

  say('');
  say(
    `Temporal on PostgreSQL is running (server pid ${cluster.serverPid}, PostgreSQL 127.0.0.1:${cluster.postgres.port}):`,
  );
  say(`  export TEMPORAL_ADDRESS=${cluster.address}`);
  if (certificates) {
    say(`  export TEMPORAL_TLS_SERVER_CA_CERT_PATH=${certificates.caFile}`);
    say(`  export TEMPORAL_TLS_CLIENT_CERT_PATH=${certificates.clientCertFile}`);
    say(`  export TEMPORAL_TLS_CLIENT_KEY_PATH=${certificates.clientKeyFile}`);
    say(`  export TEMPORAL_TLS_SERVER_NAME=${certificates.serverName}`);
  }
  say(`  namespaces: ${cluster.namespaces.join(', ')} (with snapkeeper's search attributes)`);
  say('Ctrl-C stops the server and PostgreSQL; the data stays for the next start.');
}

function reuseCertificates(dir: string): Certificates {
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    serverName: 'localhost',
    issueClient: () =>
      Promise.reject(new Error('issue new client certificates with openssl from ca.pem / ca.key')),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`cluster │ ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
