import { createServer } from 'node:net';

/**
 * A port the kernel just handed out for 127.0.0.1. Another process may still take it before the
 * caller binds it; callers that start servers on it retry with a new port when that happens.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a listening socket'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

/**
 * Fails when something already listens on the port. A server started on a taken port dies, but a
 * readiness probe could meanwhile get its answer from the other process and report success.
 */
export async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  await new Promise<void>((resolveFree, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${host}:${port} is already in use`) : err),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolveFree()));
  });
}

/**
 * A free port from a range, for servers that cannot take the kernel's ephemeral ports: Temporal
 * stores membership ports in a PostgreSQL smallint (at most 32767).
 */
export async function findFreePortInRange(min: number, max: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    try {
      await assertPortFree(port, host);
      return port;
    } catch {
      // Taken: another draw.
    }
  }
  throw new Error(`no free port between ${min} and ${max} on ${host} after 100 tries`);
}
