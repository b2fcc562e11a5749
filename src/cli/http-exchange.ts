// One HTTP/1.1 exchange over node:net, for the CLI's fast path (temporal-http.ts): the request with
// `Connection: close`, then the whole answer, read until the server closes the connection. node:http
// does the same with more machinery: loading it, its agent and its parser cost show's two requests
// about 11 ms more CPU than this on the 2-core machine (node:http +23.6 ms, this +12.5 ms over an
// empty script; interleaved medians of 40, 2026-12-07), in a budget where the whole fast show may
// add only ~0.4x a `temporal workflow describe` to Node's own start. It speaks only what the
// frontend's HTTP API answers: a status line, headers, and a body of Content-Length bytes, chunked, or
// up to the close. Anything else (a 1xx, a malformed answer) is an error: the caller then leaves
// the answer to the Temporal client.
import { connect } from 'node:net';

export interface HttpAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Without a byte from the server for this long, the exchange fails. */
  timeoutMs: number;
}

export class MalformedAnswer extends Error {
  override name = 'MalformedAnswer';
}

/** Chunked transfer coding (RFC 9112 §7.1): the chunks' data, trailers ignored. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) throw new MalformedAnswer('the answer ends inside a chunk header');
    const sizeText = raw.subarray(at, eol).toString('latin1').split(';')[0]?.trim() ?? '';
    if (!/^[0-9A-Fa-f]+$/.test(sizeText)) throw new MalformedAnswer(`bad chunk size "${sizeText}"`);
    const size = parseInt(sizeText, 16);
    if (size === 0) return Buffer.concat(parts);
    const start = eol + 2;
    if (start + size > raw.length) throw new MalformedAnswer('the answer ends inside a chunk');
    parts.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** Reads a whole answer, as received up to the server's close. */
export function parseAnswer(raw: Buffer): HttpAnswer {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new MalformedAnswer('the answer ends inside its headers');
  const [statusLine = '', ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] ([2-5]\d\d)(?: |$)/.exec(statusLine);
  if (!m) throw new MalformedAnswer(`unexpected status line "${statusLine.slice(0, 80)}"`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MalformedAnswer(`bad header line "${line.slice(0, 80)}"`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(headEnd + 4);
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length) || length < 0 || body.length < length)
      throw new MalformedAnswer(
        `a body of ${body.length} bytes for Content-Length ${headers['content-length']}`,
      );
    body = body.subarray(0, length);
  }
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

/** Sends one request to an http:// URL and resolves with the answer; rejects on any failure. */
export function httpExchange(url: string, request: HttpRequest): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    if (target.protocol !== 'http:') {
      reject(new Error(`not an http:// URL: ${url}`));
      return;
    }
    const headers: Record<string, string> = {
      host: target.host,
      connection: 'close',
      ...request.headers,
      ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}),
    };
    const head = [
      `${request.method} ${target.pathname}${target.search} HTTP/1.1`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    const chunks: Buffer[] = [];
    const socket = connect({
      // The brackets of an IPv6 literal are the URL's, not the address's.
      host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(target.port || 80),
    });
    socket.setTimeout(request.timeoutMs, () =>
      socket.destroy(new Error(`no answer within ${request.timeoutMs} ms`)),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    // write, not end: a server may take a half-closed connection for a client that went away
    // (Go's net/http then cancels the request). The server closes after answering.
    socket.write(`${head.join('\r\n')}\r\n\r\n${request.body ?? ''}`);
  });
}
