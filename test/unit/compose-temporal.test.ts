import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The compose stack cannot run here (no registry); the native cluster that the tests run must stay
// the same server with the same settings, and the compose stack must not expose Temporal.
interface Service {
  image?: string;
  env_file?: string | string[];
  environment?: Record<string, unknown>;
  volumes?: string[];
  ports?: string[];
  entrypoint?: string[];
}

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const services = (
  parse(read('docker-compose.temporal.yml'), { merge: true }) as { services: Record<string, Service> }
).services;
const pinned = (name: string) => {
  const match = new RegExp(`${name}="\\$\\{${name}:-v([0-9.]+)\\}"`).exec(read('scripts/ensure-temporal.sh'));
  if (!match?.[1]) throw new Error(`${name} not found in scripts/ensure-temporal.sh`);
  return match[1];
};
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

describe('docker-compose.temporal.yml against the native cluster', () => {
  it('runs the server version that scripts/ensure-temporal.sh builds, and its tctl', () => {
    const server = pinned('TEMPORAL_SERVER_VERSION');
    expect(service('temporal').image).toBe(`temporalio/server:\${TEMPORAL_VERSION:-${server}}`);
    for (const name of ['temporal-schema', 'temporal-admin-tools', 'temporal-search-attributes'])
      expect(service(name).image).toContain(`${server}-tctl-${pinned('TCTL_VERSION')}`);
  });

  it('configures the server from the same files as npm run cluster', () => {
    for (const name of ['temporal', 'temporal-schema'])
      expect(service(name).env_file).toBe('deploy/temporal/server.env');
    const temporal = service('temporal');
    const dynamic = String(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH);
    expect(temporal.volumes).toContain(`./deploy/temporal/dynamicconfig.yaml:${dynamic}:ro`);
    expect(service('temporal-schema').volumes).toContain(
      './deploy/temporal/setup-schema.sh:/snapkeeper/setup-schema.sh:ro',
    );
    expect(read('deploy/temporal/server.env')).toMatch(/^DB=postgres12$/m);
  });

  it('publishes Temporal and its Web UI on loopback only', () => {
    for (const name of ['temporal', 'temporal-ui', 'postgresql', 'temporal-admin-tools']) {
      for (const port of service(name).ports ?? []) expect(port, `${name} ${port}`).toMatch(/^127\.0\.0\.1:/);
    }
    expect(service('temporal').ports).toEqual(['127.0.0.1:7233:7233']);
  });
});
