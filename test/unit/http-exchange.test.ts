// The fast path's HTTP/1.1 exchange over node:net (src/cli/http-exchange.ts) against real sockets:
// node:http servers for the common shapes of an answer (Content-Length, chunked), raw TCP servers
// for the rest (a body up to the close, a chunk split inside a UTF-8 character, malformed answers,
// silence), and what it sends (its request, its body, a connection it keeps open until answered).
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MalformedAnswer, httpExchange, parseAnswer } from '../../src/cli/http-exchange.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
});

async function listen(server: Server, host = '127.0.0.1'): Promise<string> {
  servers.push(server);
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((ok) => server.listen(0, host, ok));
  const { port } = server.address() as AddressInfo;
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

function httpServer(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  return createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
}

/** A TCP server that answers whatever arrives with these bytes, written in these pieces, then closes. */
function rawServer(pieces: Buffer[], onRequest?: (text: string, socket: Socket) => void) {
  return createTcpServer((socket) => {
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      onRequest?.(text, socket);
      for (const p of pieces) socket.write(p);
      socket.end();
    });
  });
}

describe('httpExchange', () => {
  it('sends the method, path, query, headers and body, and reads a Content-Length answer', async () => {
    let seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const base = await listen(
      httpServer((req, body, res) => {
        seen = { method: req.method, url: req.url, headers: req.headers, body };
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":"naïve ✓"}');
      }),
    );
    const answer = await httpExchange(`${base}/api/v1/x%3Ay/query/state?noPayloadShorthand=true`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: '{"é":1}',
      timeoutMs: 5_000,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.body).toBe('{"ok":"naïve ✓"}');
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/api/v1/x%3Ay/query/state?noPayloadShorthand=true');
    expect(seen.body).toBe('{"é":1}');
    expect(seen.headers?.['content-length']).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(seen.headers?.host).toBe(new URL(base).host);
    expect(seen.headers?.connection).toBe('close');
  });

  it('reads a chunked answer, and an error status with its body', async () => {
    const base = await listen(
      httpServer((req, _body, res) => {
        res.statusCode = req.url === '/missing' ? 404 : 200;
        // Several writes without a length: node:http sends them chunked.
        for (const part of ['{"a":', '"', 'x'.repeat(70_000), '"}']) res.write(part);
        res.end();
      }),
    );
    const ok = await httpExchange(`${base}/list`, { method: 'GET', timeoutMs: 5_000 });
    expect(ok.headers['transfer-encoding']).toBe('chunked');
    expect(JSON.parse(ok.body)).toEqual({ a: 'x'.repeat(70_000) });
    const missing = await httpExchange(`${base}/missing`, { method: 'GET', timeoutMs: 5_000 });
    expect(missing.status).toBe(404);
    expect(missing.body.length).toBe(70_008);
  });

  it('reads a body that runs to the close, split inside a UTF-8 character', async () => {
    const body = Buffer.from('{"v":"€"}');
    const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n');
    const cut = body.indexOf(Buffer.from('€')) + 1;
    const base = await listen(rawServer([head, body.subarray(0, cut), body.subarray(cut)]));
    const answer = await httpExchange(`${base}/`, { method: 'GET', timeoutMs: 5_000 });
    expect(answer.body).toBe('{"v":"€"}');
  });

  it('keeps its side open until the server answered (a half-close reads as a client gone)', async () => {
    let halfClosedBeforeAnswer: boolean | undefined;
    const base = await listen(
      createTcpServer((socket) => {
        let ended = false;
        socket.on('end', () => (ended = true));
        socket.once('data', () => {
          // Give a half-close time to arrive before answering.
          setTimeout(() => {
            halfClosedBeforeAnswer = ended;
            socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
          }, 100);
        });
      }),
    );
    expect((await httpExchange(`${base}/`, { method: 'GET', timeoutMs: 5_000 })).body).toBe('{}');
    expect(halfClosedBeforeAnswer).toBe(false);
  });

  it('talks to an IPv6 literal', async () => {
    let base: string;
    try {
      base = await listen(
        httpServer((_req, _body, res) => res.end('{}')),
        '::1',
      );
    } catch {
      // No IPv6 loopback on this machine: nothing to show here.
      return;
    }
    expect((await httpExchange(`${base}/`, { method: 'GET', timeoutMs: 5_000 })).body).toBe('{}');
  });

  it('fails, never hangs: refused, silent, malformed, cut short', async () => {
    const refused = await listen(createTcpServer());
    servers.pop()?.close();
    await new Promise((ok) => setTimeout(ok, 50));
    await expect(httpExchange(`${refused}/`, { method: 'GET', timeoutMs: 5_000 })).rejects.toThrow(
      /ECONNREFUSED/,
    );

    const silent = await listen(createTcpServer(() => undefined));
    await expect(httpExchange(`${silent}/`, { method: 'GET', timeoutMs: 200 })).rejects.toThrow(
      'no answer within 200 ms',
    );

    for (const bad of [
      'HTTP/1.1 100 Continue\r\n\r\n',
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a"',
      'HTTP/1.1 200 OK\r\nContent-',
    ]) {
      const base = await listen(rawServer([Buffer.from(bad, 'latin1')]));
      await expect(httpExchange(`${base}/`, { method: 'GET', timeoutMs: 5_000 }), bad).rejects.toThrow(
        MalformedAnswer,
      );
    }
  });
});

describe('parseAnswer', () => {
  it('reads chunk extensions and trailers, header names in lower case, HTTP/1.0', () => {
    const chunked = parseAnswer(
      Buffer.from(
        'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: Chunked\r\nX-A: b\r\n\r\n3;ext=1\r\n{"c\r\n5\r\node":\r\n2\r\n13\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n',
      ),
    );
    expect(chunked).toEqual({
      status: 500,
      headers: { 'transfer-encoding': 'Chunked', 'x-a': 'b' },
      body: '{"code":13}',
    });
    expect(parseAnswer(Buffer.from('HTTP/1.0 200 OK\r\n\r\n[]')).body).toBe('[]');
  });
});
