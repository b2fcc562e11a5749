// Sends a request exactly as generated: the path byte for byte (no normalisation of "..", no
// re-encoding), headers as a raw list (so a header can appear twice), any body. fetch would
// clean all of that up before it reached the server.
import { request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent verbatim; must be ASCII (callers percent-encode anything else). */
  path: string;
  headers: Array<[string, string]>;
  body?: Buffer | string;
}

export interface RawAnswer {
  status: number;
  contentType: string | undefined;
  text: string;
}

export async function sendRaw(baseUrl: string, req: RawRequest, timeoutMs = 60_000): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const body =
    req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  // With a raw header list node adds nothing of its own, not even Host (HTTP/1.1 requires it).
  const headers: string[] = ['host', url.host];
  for (const [k, v] of req.headers) headers.push(k, v);
  if (body !== undefined && !req.headers.some(([k]) => k.toLowerCase() === 'content-length'))
    headers.push('content-length', String(body.length));
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () =>
      r.destroy(new Error(`${req.method} ${req.path.slice(0, 80)}: no answer in ${timeoutMs} ms`)),
    );
    r.on('error', reject);
    if (body !== undefined) r.end(body);
    else r.end();
  });
}
