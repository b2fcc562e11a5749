export interface Answer {
  status: number;
  text: string;
  /** The answer's Server-Timing header, when it has one (the webhook route's phases). */
  serverTiming?: string;
}

/** `name;dur=ms, …` as milliseconds by name; entries without a duration are left out. */
export function parseServerTiming(value: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of (value ?? '').split(',')) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (name && dur) out[name] = Number(dur.slice(4));
  }
  return out;
}

/** A POST that reads the whole answer; loopback only, with a deadline well above any handler's. */
export async function post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) });
  const serverTiming = res.headers.get('server-timing');
  return { status: res.status, text: await res.text(), ...(serverTiming ? { serverTiming } : {}) };
}
