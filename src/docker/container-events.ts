// The engine's container create and start events, as one watch that outlives the engine: when the
// stream ends (the engine restarted, its socket went away) the watch connects again, with backoff,
// and asks for the events since the last one it saw, so a short gap loses none the engine still
// holds. Docker records no last-use time (moby/moby#4237): these events are where one comes from.
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { statusCodeOf } from './docker-port.js';
import { fullImageId } from './engine-names.js';

export interface ContainerEvent {
  containerId: string;
  action: 'create' | 'start';
  /** The image as the container was created with it: a reference or an id. */
  image: string;
  /** When the engine stamped it, in seconds since the epoch. */
  time: number;
}

export interface ContainerEventWatchOptions {
  onEvent(event: ContainerEvent): void;
  /** The stream ended or could not be opened; the watch tries again in `retryInMs`. */
  onDisconnect(err: unknown, retryInMs: number): void;
  onConnect?(): void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ContainerEventWatch {
  stop(): void;
  /** Settles once the stream is first open: events from then on are seen. */
  readonly ready: Promise<void>;
  /** Settles when the watch has stopped (after stop()). */
  readonly stopped: Promise<void>;
}

const ACTIONS = new Set(['create', 'start']);

export function watchContainerEvents(
  docker: Dockerode,
  options: ContainerEventWatchOptions,
): ContainerEventWatch {
  const minBackoff = options.minBackoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  let stopping = false;
  let stream: Readable | undefined;
  let wake: (() => void) | undefined;
  let since: number | undefined;
  let openedOnce!: () => void;
  const ready = new Promise<void>((resolve) => {
    openedOnce = resolve;
  });

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Reads one connection to its end; resolves with what ended it (undefined: a clean end). */
  const follow = (s: Readable) =>
    new Promise<unknown>((resolve) => {
      let buffered = '';
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          const event = line ? parseContainerEvent(line) : undefined;
          if (event) {
            since = Math.max(since ?? 0, event.time);
            options.onEvent(event);
          }
          newline = buffered.indexOf('\n');
        }
      });
      s.once('error', (err) => resolve(err));
      s.once('close', () => resolve(undefined));
      s.once('end', () => resolve(undefined));
    });

  const run = async () => {
    let backoff = minBackoff;
    while (!stopping) {
      let ended: unknown;
      try {
        const opened = (await docker.getEvents({
          ...(since !== undefined ? { since } : {}),
          filters: { type: ['container'], event: [...ACTIONS] },
        })) as Readable;
        if (stopping) {
          opened.destroy();
          break;
        }
        stream = opened;
        openedOnce();
        options.onConnect?.();
        backoff = minBackoff;
        ended = (await follow(opened)) ?? new Error('the engine closed its event stream');
      } catch (err) {
        ended = err;
      }
      stream = undefined;
      if (stopping) break;
      options.onDisconnect(ended, backoff);
      await pause(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  };

  const stopped = run();
  return {
    ready,
    stop() {
      stopping = true;
      stream?.destroy();
      wake?.();
    },
    stopped,
  };
}

/** One line of the engine's event stream, when it is a container create or start. */
export function parseContainerEvent(line: string): ContainerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as {
    Type?: unknown;
    Action?: unknown;
    id?: unknown;
    from?: unknown;
    time?: unknown;
    Actor?: { ID?: unknown; Attributes?: Record<string, unknown> };
  };
  const action = e.Action;
  if (e.Type !== 'container' || typeof action !== 'string' || !ACTIONS.has(action)) return undefined;
  const containerId = typeof e.Actor?.ID === 'string' ? e.Actor.ID : e.id;
  const image = e.Actor?.Attributes?.image ?? e.from;
  if (typeof containerId !== 'string' || typeof image !== 'string') return undefined;
  return {
    containerId,
    action: action as ContainerEvent['action'],
    image,
    time: typeof e.time === 'number' ? e.time : Math.floor(Date.now() / 1000),
  };
}

/** The id of the image a container runs, or null when the container is gone already. */
export async function containerImageId(docker: Dockerode, containerId: string): Promise<string | null> {
  try {
    const info = await docker.getContainer(containerId).inspect();
    // Compared with the snapshot's `sha256:` id; an engine may answer bare hex (engine-names.ts).
    return fullImageId(info.Image);
  } catch (err) {
    if (statusCodeOf(err) === 404) return null;
    throw err;
  }
}
