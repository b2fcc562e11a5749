// snapkeeper against a Temporal server that requires client certificates (mTLS), configured only
// through Temporal's environment variables: the server on PostgreSQL (scripts/lib/temporal-cluster.ts)
// with a CA and certificates made here with openssl, the real worker and API processes, and a
// client built by src/temporal/connect-client.ts. Runs whatever SNAPKEEPER_TEST_TEMPORAL says:
// this file always owns a cluster of its own.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from '@temporalio/client';
import { Connection } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../scripts/lib/free-port.js';
import type { Certificates } from '../../scripts/lib/make-certificates.js';
import { makeCertificates } from '../../scripts/lib/make-certificates.js';
import type { TemporalCluster } from '../../scripts/lib/temporal-cluster.js';
import { startTemporalCluster } from '../../scripts/lib/temporal-cluster.js';
import { SnapkeeperClient } from '@snapkeeper/client';
import { loadConfig } from '../../src/config/config.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { connectClient } from '../../src/temporal/connect-client.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { ApiProcess, WorkerProcess } from '../support/worker-process.js';
import { startApiProcess, startWorkerProcess } from '../support/worker-process.js';

const exec = promisify(execFile);
const HOST = `mtls-${randomUUID().slice(0, 8)}`;
const TOKEN = `token-${randomUUID()}`;
const DEADLINE = { timeoutMs: 90_000 };

let dir: string;
let certs: Certificates;
let cluster: TemporalCluster;
let worker: WorkerProcess | undefined;
let api: ApiProcess | undefined;
let apiUrl: string;
let docker: Dockerode;

/** Exactly what an operator would set: Temporal's variables, nothing snapkeeper-specific. */
function temporalEnv(client: { certFile: string; keyFile: string }): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: cluster.address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: client.certFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: client.keyFile,
    TEMPORAL_TLS_SERVER_NAME: certs.serverName,
  };
}

beforeAll(async () => {
  docker = newDocker();
  dir = await mkdtemp(join(tmpdir(), 'snapkeeper-mtls-'));
  // PostgreSQL runs as its own user when the tests run as root.
  await chmod(dir, 0o711);
  certs = await makeCertificates(join(dir, 'tls'));
  cluster = await startTemporalCluster({ dir: join(dir, 'cluster'), tls: certs });

  const workerCert = await certs.issueClient('snapkeeper-worker');
  worker = await startWorkerProcess({
    env: {
      ...temporalEnv(workerCert),
      DOCKER_HOST: testEnv().dockerHost,
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_RECONCILE_INTERVAL: '24h',
    },
  });
  const apiCert = await certs.issueClient('snapkeeper-api');
  const port = await findFreePort();
  api = await startApiProcess({
    env: {
      ...temporalEnv(apiCert),
      SNAPKEEPER_PORT: String(port),
      SNAPKEEPER_API_TOKEN: TOKEN,
      GITHUB_WEBHOOK_SECRET: `secret-${randomUUID()}`,
      SNAPKEEPER_HOST_ID: HOST,
    },
  });
  await Promise.all([worker.waitReady(120_000), api.waitReady(120_000)]);
  apiUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Temporal with mTLS, configured by TEMPORAL_TLS_* variables', () => {
  it('register through the API, merge through a client, and the image is gone', async () => {
    const ids = uniqueIds('mtls');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const rest = new SnapkeeperClient({ baseUrl: apiUrl, token: TOKEN });
    const registered = await rest.register({ ...ids, image: img.image, host: HOST });
    expect(registered.snapshot.imageId).toBe(img.imageId);

    const config = loadConfig(temporalEnv({ certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }));
    const { connection, client } = await connectClient(config);
    try {
      const service = createSnapshotService({ client, defaultTtlSeconds: 3600 });
      expect(await service.merged(ids.projectId, ids.workItemId, { deliveryId: randomUUID() })).toBe(true);
      await waitFor(async () => !(await imageExists(docker, img.imageId)), {
        ...DEADLINE,
        message: `${img.imageId} still there after the merge`,
      });
      expect((await service.view(ids.projectId, ids.workItemId))?.last).toMatchObject({
        imageId: img.imageId,
        state: 'removed',
        endReason: 'merged',
      });
    } finally {
      await connection.close();
    }
  });

  it('refuses a client without a certificate, in plain text, or with a certificate of another CA', async () => {
    const attempt = async (options: ConnectionOptions) => {
      const connection = await Connection.connect({ ...options, connectTimeout: 5_000 });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
    };
    const serverTrust = {
      serverRootCACertificate: readFileSync(certs.caFile),
      serverNameOverride: certs.serverName,
    };
    await expect(attempt({ address: cluster.address, tls: serverTrust })).rejects.toThrow();
    await expect(attempt({ address: cluster.address })).rejects.toThrow();

    const stranger = await makeCertificates(join(dir, 'other-ca'), { caName: 'not the cluster CA' });
    await expect(
      attempt({
        address: cluster.address,
        tls: {
          ...serverTrust,
          clientCertPair: {
            crt: readFileSync(stranger.clientCertFile),
            key: readFileSync(stranger.clientKeyFile),
          },
        },
      }),
    ).rejects.toThrow();

    // The same client with the cluster's certificate gets in: the refusals above are about the certificate.
    await attempt({
      address: cluster.address,
      tls: {
        ...serverTrust,
        clientCertPair: { crt: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) },
      },
    });
  });

  it("operators' CLIs get in with a certificate: temporal with the same variables, tctl with its flags", async () => {
    const env = testEnv();
    const { stdout: viaEnv } = await exec(
      env.temporalCliPath,
      ['operator', 'namespace', 'describe', '--namespace', 'default'],
      {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...temporalEnv({ certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }),
        },
      },
    );
    expect(viaEnv).toMatch(/default/);
    if (env.tctlPath) {
      const { stdout: viaFlags } = await exec(
        env.tctlPath,
        [
          '--address',
          cluster.address,
          '--tls_cert_path',
          certs.clientCertFile,
          '--tls_key_path',
          certs.clientKeyFile,
          '--tls_ca_path',
          certs.caFile,
          '--tls_server_name',
          certs.serverName,
          'namespace',
          'describe',
          'default',
        ],
        { timeout: 60_000 },
      );
      expect(viaFlags).toMatch(/Name: default/);
    }
    // Without the certificate, the same CLI is refused.
    await expect(
      exec(env.temporalCliPath, ['operator', 'namespace', 'describe', '--namespace', 'default'], {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TEMPORAL_ADDRESS: cluster.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caFile,
          TEMPORAL_TLS_SERVER_NAME: certs.serverName,
        },
      }),
    ).rejects.toThrow();
  });

  it('a worker without a client certificate does not get in', async () => {
    const refused = await startWorkerProcess({
      env: {
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caFile,
        TEMPORAL_TLS_SERVER_NAME: certs.serverName,
        DOCKER_HOST: testEnv().dockerHost,
        SNAPKEEPER_HOST_ID: `${HOST}-nocert`,
      },
    });
    const exit = await refused.exited;
    expect(exit.code).toBe(1);
    expect(refused.logs()).toMatch(/snapkeeper worker failed/);
  });
});
