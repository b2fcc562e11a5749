// A fault-injecting TCP proxy for the chaos run: it sits between a process and what it calls (a
// worker and the Temporal frontend, the API and the frontend, a Docker worker and its engine's unix
// socket) and, on command, delays bytes, resets every connection, or cuts the link for a while.
// Written here rather than Toxiproxy: Toxiproxy would need a Go build in every fresh CI clone, and
// the chaos run needs only these four faults, on TCP and unix sockets alike.
import { rm } from 'node:fs/promises';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createConnection, createServer } from 'node:net';

/** Where the proxy listens or connects: a TCP port on loopback, or a unix socket path. */
export type Endpoint = { host: string; port: number } | { path: string };

/**
 * How a partition cuts the link. `reset`: every connection is reset and new ones are reset as soon
 * as they are accepted (a peer that is down, a firewall that rejects). `blackhole`: connections
 * stay open and new ones are accepted, but no byte passes either way (a cable pulled, a firewall
 * that drops); when it ends they are reset, as a stalled TCP connection eventually is.
 */
export type PartitionMode = 'reset' | 'blackhole';

export interface FaultProxyStats {
  connections: number;
  resets: number;
  /** Connections refused (reset at accept) during a `reset` partition. */
  refused: number;
}

export interface FaultProxy {
  readonly name: string;
  /** What clients should connect to. */
  readonly endpoint: Endpoint;
  /** `host:port` for a TCP listener, `unix://path` for a socket (as DOCKER_HOST wants it). */
  readonly address: string;
  readonly stats: FaultProxyStats;
  /** Every chunk, each way, waits this long (plus up to `jitterMs`), order kept. 0 turns it off. */
  setLatency(ms: number, jitterMs?: number): void;
  /** Resets every open connection now; new ones pass as before. Returns how many it reset. */
  dropConnections(): number;
  /** Cuts the link for `ms`, then lets connections through again. Resolves when it has healed. */
  partition(ms: number, mode?: PartitionMode): Promise<void>;
  /** Ends any fault in progress: no latency, no partition. */
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export async function startFaultProxy(options: {
  name: string;
  listen: Endpoint;
  target: Endpoint;
}): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  const stats: FaultProxyStats = { connections: 0, resets: 0, refused: 0 };
  let latencyMs = 0;
  let jitterMs = 0;
  let partitioned: PartitionMode | null = null;
  let partitionTimer: NodeJS.Timeout | undefined;
  let healed: () => void = () => undefined;

  const reset = (pair: Pair) => {
    if (!pairs.delete(pair)) return;
    stats.resets++;
    hardClose(pair.client);
    hardClose(pair.upstream);
  };

  /**
   * Copies `from` to `to`, through the latency and the blackhole, keeping the order of chunks; an
   * end is passed on after the last delayed chunk (half-close, as Docker's hijacked streams use).
   * One queue and one timer per direction: timers of different lengths that fall due in the same
   * millisecond do not fire in the order they were set, and a stream whose chunks swap places is
   * corrupt (gRPC then fails its call with RST_STREAM, PROTOCOL_ERROR: seen in the first runs).
   */
  const forward = (from: Socket, to: Socket) => {
    const queue: { due: number; act: () => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let lastDue = 0;
    const pump = () => {
      timer = undefined;
      while (queue.length > 0 && (queue[0]?.due ?? 0) <= Date.now()) queue.shift()?.act();
      schedule();
    };
    const schedule = () => {
      const head = queue[0];
      if (timer || !head) return;
      timer = setTimeout(pump, Math.max(0, head.due - Date.now()));
      timer.unref();
    };
    const later = (act: () => void) => {
      if (latencyMs === 0 && queue.length === 0) return act();
      lastDue = Math.max(Date.now() + latencyMs + Math.random() * jitterMs, lastDue);
      queue.push({ due: lastDue, act });
      schedule();
    };
    from.on('data', (chunk: Buffer) => {
      // A blackholed link loses what is sent into it; the connection is reset when it heals.
      if (partitioned === 'blackhole') return;
      later(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () =>
      later(() => {
        if (!to.destroyed) to.end();
      }),
    );
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++;
    if (partitioned === 'reset') {
      stats.refused++;
      hardClose(client);
      return;
    }
    const target = options.target;
    const upstream = createConnection(
      'path' in target ? { path: target.path, allowHalfOpen: true } : { ...target, allowHalfOpen: true },
    );
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    client.setNoDelay(true);
    if (!('path' in options.target)) upstream.setNoDelay(true);
    forward(client, upstream);
    forward(upstream, client);
    // A side that fails resets the other: a reset stays a reset. Both closed: the pair is done.
    const fail = () => reset(pair);
    client.on('error', fail);
    upstream.on('error', fail);
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) pairs.delete(pair);
      else if (client.destroyed !== upstream.destroyed) {
        // One side went without an end (destroyed): the other cannot be served any more.
        if (!client.destroyed) client.destroySoon();
        if (!upstream.destroyed) upstream.destroySoon();
      }
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });
  server.on('error', () => undefined);

  if ('path' in options.listen) await rm(options.listen.path, { force: true });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    const l = options.listen;
    if ('path' in l) server.listen(l.path, () => resolveListen());
    else server.listen(l.port, l.host, () => resolveListen());
  });
  const endpoint: Endpoint =
    'path' in options.listen
      ? { path: options.listen.path }
      : { host: options.listen.host, port: (server.address() as AddressInfo).port };
  const address = 'path' in endpoint ? `unix://${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;

  const endPartition = () => {
    clearTimeout(partitionTimer);
    partitionTimer = undefined;
    const was = partitioned;
    partitioned = null;
    // A blackholed connection lost bytes: it cannot go on, as TCP's retransmissions give up.
    if (was === 'blackhole') for (const p of [...pairs]) reset(p);
    const done = healed;
    healed = () => undefined;
    done();
  };

  const proxy: FaultProxy = {
    name: options.name,
    endpoint,
    address,
    stats,
    setLatency(ms, jitter = 0) {
      latencyMs = Math.max(0, ms);
      jitterMs = Math.max(0, jitter);
    },
    dropConnections() {
      const n = pairs.size;
      for (const p of [...pairs]) reset(p);
      return n;
    },
    partition(ms, mode = 'reset') {
      if (partitioned) endPartition();
      partitioned = mode;
      if (mode === 'reset') for (const p of [...pairs]) reset(p);
      return new Promise<void>((resolveHealed) => {
        healed = resolveHealed;
        partitionTimer = setTimeout(endPartition, ms);
      });
    },
    heal() {
      latencyMs = 0;
      jitterMs = 0;
      if (partitioned) endPartition();
    },
    async close() {
      proxy.heal();
      for (const p of [...pairs]) reset(p);
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      if ('path' in endpoint) await rm(endpoint.path, { force: true });
    },
  };
  return proxy;
}

/** An RST where the socket is TCP; a unix socket has none, so it is destroyed. */
function hardClose(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
