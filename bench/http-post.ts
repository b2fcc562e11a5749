export interface Answer {
  status: number;
  text: string;
}

/** A POST that reads the whole answer; loopback only, with a deadline well above any handler's. */
export async function post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, text: await res.text() };
}
