import { pino } from 'pino';

/** The structured logger every process uses; activities receive it through their factory. */
export type Logger = pino.Logger;

// Secrets never reach the logs, whichever object they ride in on.
const REDACT = [
  'token',
  'apiToken',
  'secret',
  'webhookSecret',
  'authorization',
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  '*.token',
  '*.apiToken',
  '*.webhookSecret',
  '*.authorization',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    ...(options.name ? { name: options.name } : {}),
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}
