// The router's and GitHub's side of a chaos run: HTTP calls to the API process, retried while the
// API is down or answers 503 (a killed API, a restarting Temporal server), as a router would.
import { setTimeout as sleep } from 'node:timers/promises';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  /**
   * What the attempts before this answer got (a network error, a 503): a request that timed out
   * may still have been done, and its retry then answers for a later state.
   */
  retried: string[];
}

export interface HttpStats {
  byStatus: Map<number, number>;
  networkErrors: number;
  /** Answers 5xx other than 503: a crash in a handler, never expected. */
  unexpected: string[];
  /** Calls that took longer than SLOW_CALL_MS to answer, with what their attempts got. */
  slow: { seconds: number; call: string }[];
}

/** A call slower than this is listed: it is what stretches a lifecycle, and so the run. */
export const SLOW_CALL_MS = 15_000;

export interface ChaosHttp {
  readonly stats: HttpStats;
  /** Retries network errors and 503s until `deadlineMs`; any other answer is returned. */
  call(
    method: string,
    path: string,
    init?: { body?: string; headers?: Record<string, string>; deadlineMs?: number },
  ): Promise<HttpAnswer>;
}

export function createChaosHttp(baseUrl: string, token: string): ChaosHttp {
  const stats: HttpStats = { byStatus: new Map(), networkErrors: 0, unexpected: [], slow: [] };
  return {
    stats,
    async call(method, path, init = {}) {
      const started = Date.now();
      const answer = await attempts(method, path, init);
      const ms = Date.now() - started;
      if (ms > SLOW_CALL_MS)
        stats.slow.push({
          seconds: Math.round(ms / 1000),
          call: `${method} ${path} → ${answer.status}${answer.retried.length > 0 ? ` after ${answer.retried.join('; ').slice(0, 160)}` : ''}`,
        });
      return answer;
    },
  };

  async function attempts(
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string>; deadlineMs?: number },
  ): Promise<HttpAnswer> {
    const deadline = Date.now() + (init.deadlineMs ?? 300_000);
    const headers: Record<string, string> = {
      ...(path.startsWith('/v1') ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body !== undefined && !init.headers ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    };
    let lastError = '';
    const retried: string[] = [];
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      try {
        const res = await fetch(`${baseUrl}${path}`, {
          method,
          headers,
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: AbortSignal.timeout(70_000),
        });
        const text = await res.text();
        stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
        let body: Record<string, unknown> = {};
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          body = { unparsed: text.slice(0, 200) };
        }
        if (res.status >= 500 && res.status !== 503)
          stats.unexpected.push(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
        if (res.status !== 503) return { status: res.status, body, retried };
        lastError = `503 ${String(body.error)}`;
      } catch (err) {
        stats.networkErrors++;
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (retried[retried.length - 1] !== lastError) retried.push(lastError);
      await sleep(Math.min(250 * attempt, 3_000));
    }
    throw new Error(
      `${method} ${path}: no answer but 503 / network errors until the deadline (${lastError})`,
    );
  }
}
