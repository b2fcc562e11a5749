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
