import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import {
  describeTemporalConnection,
  temporalConnectionOptions,
} from '../../src/temporal/connection-options.js';

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text));
const dir = mkdtempSync(join(tmpdir(), 'snapkeeper-envconfig-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file('ca.pem', 'CA PEM');
const cert = file('client.pem', 'CLIENT PEM');
const key = file('client.key', 'CLIENT KEY');
const profiles = file(
  'temporal.toml',
  `
[profile.default]
address = "default.example:7233"

[profile.prod]
address = "prod.example:7233"
namespace = "snapshots"
[profile.prod.tls]
client_cert_path = "${cert}"
client_key_path = "${key}"
server_ca_cert_path = "${ca}"
server_name = "temporal.internal"
`,
);

describe("Temporal's environment configuration", () => {
  it('connects in plain text to localhost:7233 with nothing set', () => {
    const { temporal } = loadConfig({});
    expect(temporalConnectionOptions(temporal)).toEqual({ address: 'localhost:7233' });
    expect(describeTemporalConnection(temporal).transport).toBe('plaintext');
  });

  it('reads the profile named by TEMPORAL_PROFILE from TEMPORAL_CONFIG_FILE, variables win', () => {
    const env = { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'prod' };
    const prod = loadConfig(env).temporal;
    expect(prod).toMatchObject({ address: 'prod.example:7233', namespace: 'snapshots' });
    const options = temporalConnectionOptions(prod);
    expect(options.tls).toMatchObject({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: bytes('CA PEM'),
      clientCertPair: { crt: bytes('CLIENT PEM'), key: bytes('CLIENT KEY') },
    });
    expect(describeTemporalConnection(prod).transport).toBe('mtls');

    const overridden = loadConfig({
      ...env,
      TEMPORAL_ADDRESS: 'other:7233',
      TEMPORAL_NAMESPACE: 'x',
    }).temporal;
    expect(overridden).toMatchObject({ address: 'other:7233', namespace: 'x' });
    // Without TEMPORAL_PROFILE, the "default" profile.
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: profiles }).temporal.address).toBe('default.example:7233');
  });

  it('builds mTLS from the TEMPORAL_TLS_* variables alone', () => {
    const { temporal } = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    expect(temporalConnectionOptions(temporal).tls).toMatchObject({
      serverNameOverride: 'localhost',
      clientCertPair: { crt: bytes('CLIENT PEM') },
    });
  });

  it('turns TLS on for an API key and sends gRPC metadata, and never logs the key', () => {
    const { temporal } = loadConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'secret-key',
      TEMPORAL_GRPC_META_X_TEAM: 'snapshots',
    });
    const options = temporalConnectionOptions(temporal);
    expect(options).toMatchObject({ tls: true, apiKey: 'secret-key', metadata: { 'x-team': 'snapshots' } });
    expect(JSON.stringify(describeTemporalConnection(temporal))).not.toContain('secret-key');
  });

  it('TEMPORAL_TLS=false turns TLS off', () => {
    const { temporal } = loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_NAME: 'x' });
    expect(temporalConnectionOptions(temporal).tls).toBe(false);
  });

  it('refuses missing files, a certificate without its key and an unknown profile, naming the variable', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'nope.pem') })).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH: .*nope\.pem does not exist/,
    );
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toThrow(
      /TEMPORAL_TLS_CLIENT_KEY_PATH: a client certificate and its key go together/,
    );
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: join(dir, 'missing.toml') })).toThrow(
      /TEMPORAL_CONFIG_FILE: .*missing\.toml does not exist/,
    );
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'staging' })).toThrow(
      /TEMPORAL_PROFILE: Profile 'staging' not found/,
    );
    expect(() => loadConfig({ TEMPORAL_TLS: 'maybe' })).toThrow(/TEMPORAL_TLS/);
  });
});
