// The chaos run's fault proxy against real sockets on loopback: it forwards bytes both ways (TCP
// and unix sockets), delays them in order, resets connections, and cuts the link for a while.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, FaultProxy } from '../../scripts/lib/fault-proxy.js';
import { startFaultProxy } from '../../scripts/lib/fault-proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An echo server that upper-cases what it gets; it also half-closes when the client does. */
async function echoServer(listen: Endpoint): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end('<bye>'));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) =>
    'path' in listen ? server.listen(listen.path, r) : server.listen(0, listen.host, r),
  );
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return server;
}

async function proxyTo(
  target: Endpoint,
  listen: Endpoint = { host: '127.0.0.1', port: 0 },
): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ name: 'test', listen, target });
  cleanups.push(() => proxy.close());
  return proxy;
}

function connect(endpoint: Endpoint): Promise<Socket> {
  return new Promise((resolveSocket, rejectSocket) => {
    const s = createConnection('path' in endpoint ? { path: endpoint.path } : endpoint, () =>
      resolveSocket(s),
    );
    s.once('error', rejectSocket);
    cleanups.push(async () => {
      s.destroy();
    });
  });
}

/** Resolves with what the socket got until `text` appeared, or rejects when it closes first or the deadline passes. */
function readUntil(s: Socket, text: string, deadlineMs = 2_000): Promise<string> {
  return new Promise((resolveText, rejectText) => {
    let got = '';
    const timer = setTimeout(
      () => done(new Error(`no ${JSON.stringify(text)} within ${deadlineMs} ms; got ${JSON.stringify(got)}`)),
      deadlineMs,
    );
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes(text)) done();
    };
    const onClose = () =>
      done(new Error(`closed before ${JSON.stringify(text)}; got ${JSON.stringify(got)}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) rejectText(err);
      else resolveText(got);
    };
    s.on('data', onData);
    s.on('close', onClose);
  });
}

function closed(s: Socket, deadlineMs = 2_000): Promise<void> {
  return new Promise((resolveClosed, rejectClosed) => {
    if (s.destroyed) return resolveClosed();
    const timer = setTimeout(() => rejectClosed(new Error(`still open after ${deadlineMs} ms`)), deadlineMs);
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolveClosed();
    });
  });
}

const tcpTarget = async (): Promise<Endpoint> => {
  const server = await echoServer({ host: '127.0.0.1', port: 0 });
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
};

describe('fault proxy', () => {
  it('forwards bytes both ways over TCP and passes a half-close on', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const s = await connect(proxy.endpoint);
    s.write('hello');
    expect(await readUntil(s, 'HELLO')).toBe('HELLO');
    const bye = readUntil(s, '<bye>');
    s.end();
    await bye;
    expect(proxy.stats.connections).toBe(1);
  });

  it('listens on a unix socket and forwards to a unix socket (a Docker engine)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fault-proxy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await echoServer({ path: join(dir, 'engine.sock') });
    const proxy = await proxyTo({ path: join(dir, 'engine.sock') }, { path: join(dir, 'proxy.sock') });
    expect(proxy.address).toBe(`unix://${join(dir, 'proxy.sock')}`);
    const s = await connect(proxy.endpoint);
    s.write('docker');
    expect(await readUntil(s, 'DOCKER')).toBe('DOCKER');
    expect(proxy.dropConnections()).toBe(1);
    await closed(s);
  });

  it('delays every chunk by the latency, in order', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const s = await connect(proxy.endpoint);
    proxy.setLatency(150, 50);
    const started = Date.now();
    for (const part of ['a', 'b', 'c', 'd']) s.write(part);
    const got = await readUntil(s, 'D');
    // Both ways: at least two latencies; chunks may merge, but never reorder.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(got).toBe('ABCD');
    proxy.setLatency(0);
    const quick = Date.now();
    s.write('e');
    await readUntil(s, 'E');
    // Off again: well under the two latencies (300 ms) a chunk and its echo would wait.
    expect(Date.now() - quick).toBeLessThan(280);
  });

  it('never reorders bytes: many small writes under jittered latency, switched off midway', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const s = await connect(proxy.endpoint);
    s.setNoDelay(true);
    proxy.setLatency(5, 30);
    const sent: string[] = [];
    for (let i = 0; i < 400; i++) {
      const part = `${i}.`;
      sent.push(part);
      s.write(part);
      // Each write its own chunk (a tick apart), so jitter and the switch-off meet many of them.
      await new Promise((r) => setImmediate(r));
      if (i === 200) proxy.setLatency(0);
    }
    const got = await readUntil(s, '399.', 10_000);
    // A TCP stream is never reordered; a proxy that did would corrupt HTTP/2 frames.
    expect(got).toBe(sent.join(''));
  });

  it('resets every open connection on a drop, and takes new ones at once', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const a = await connect(proxy.endpoint);
    const b = await connect(proxy.endpoint);
    a.write('x');
    await readUntil(a, 'X');
    b.write('y');
    await readUntil(b, 'Y');
    const errors: string[] = [];
    a.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    expect(proxy.dropConnections()).toBe(2);
    await Promise.all([closed(a), closed(b)]);
    expect(errors).toContain('ECONNRESET');
    const c = await connect(proxy.endpoint);
    c.write('z');
    expect(await readUntil(c, 'Z')).toBe('Z');
  });

  it('a reset partition refuses connections until it heals', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const before = await connect(proxy.endpoint);
    const healed = proxy.partition(400, 'reset');
    await closed(before);
    // Reset at accept: the connect itself may fail, or the socket closes before any byte.
    const during = await new Promise<string>((resolveDuring) => {
      const s = createConnection(proxy.endpoint as { host: string; port: number });
      s.on('data', () => resolveDuring('got data'));
      s.on('error', (e: NodeJS.ErrnoException) => resolveDuring(e.code ?? e.message));
      s.on('close', () => resolveDuring('closed'));
    });
    expect(['ECONNRESET', 'closed']).toContain(during);
    expect(proxy.stats.refused).toBe(1);
    await healed;
    const after = await connect(proxy.endpoint);
    after.write('ok');
    expect(await readUntil(after, 'OK')).toBe('OK');
  });

  it('a blackhole partition passes no byte, then resets what it held', async () => {
    const proxy = await proxyTo(await tcpTarget());
    const s = await connect(proxy.endpoint);
    const healed = proxy.partition(500, 'blackhole');
    s.write('lost');
    await expect(readUntil(s, 'LOST', 300)).rejects.toThrow(/no "LOST" within 300 ms/);
    await healed;
    await closed(s);
    const after = await connect(proxy.endpoint);
    after.write('back');
    expect(await readUntil(after, 'BACK')).toBe('BACK');
  });
});
