// JSON on a stream, the way every command prints --json. Its own module so the HTTP fast path can
// print without loading runtime.ts (the configuration schema and the Temporal client).

/** Any writable text stream (runtime.ts's OutputStream, which re-exports this function). */
export function writeJson(stream: { write(chunk: string): boolean }, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}
