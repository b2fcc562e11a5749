import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterTlsFiles } from './temporal-cluster.js';

const exec = promisify(execFile);

export interface Certificates extends ClusterTlsFiles {
  dir: string;
  /** Make another client certificate signed by this CA, e.g. one per process. */
  issueClient(name: string): Promise<{ certFile: string; keyFile: string }>;
}

/**
 * A private CA with openssl, a server certificate for `localhost` / 127.0.0.1 (server and client
 * authentication: Temporal's own services present it to each other), and one client certificate.
 * P-256 keys: quick to make, and accepted by Go, rustls and Node alike.
 */
export async function makeCertificates(
  dirPath: string,
  options: { days?: number; caName?: string } = {},
): Promise<Certificates> {
  const dir = resolve(dirPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const days = String(options.days ?? 7);
  const path = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => {
    try {
      await exec('openssl', args, { cwd: dir });
    } catch (err) {
      throw new Error(
        `openssl ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`,
      );
    }
  };
  const key = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(name));

  await key('ca.key');
  await openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    days,
    '-subj',
    `/CN=${options.caName ?? 'snapkeeper test CA'}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );

  const issue = async (name: string, cn: string, extensions: string) => {
    await key(`${name}.key`);
    await openssl(
      'req',
      '-new',
      '-key',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    await writeFile(path(`${name}.ext`), extensions);
    await openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path(`${name}.pem`),
      '-days',
      days,
      '-extfile',
      path(`${name}.ext`),
    );
    return { certFile: path(`${name}.pem`), keyFile: path(`${name}.key`) };
  };
  const clientExtensions =
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

  const server = await issue(
    'server',
    'localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  const client = await issue('client', 'snapkeeper', clientExtensions);
  return {
    dir,
    caFile: path('ca.pem'),
    serverCertFile: server.certFile,
    serverKeyFile: server.keyFile,
    clientCertFile: client.certFile,
    clientKeyFile: client.keyFile,
    serverName: 'localhost',
    issueClient: (name: string) => issue(name, name, clientExtensions),
  };
}
