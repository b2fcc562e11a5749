// "Gone" as the engine itself reports it: the `delete` event of an image on Docker's event stream,
// with the engine's own timestamp, instead of polling inspect (whose interval would be the floor).
// Removing an image's last reference emits `untag` then `delete`; only `delete` means gone.
import type Dockerode from 'dockerode';
import { wallMs } from './stats.js';

export interface ImageEvent {
  imageId: string;
  /** The engine's clock when it emitted the event (ms, sub-ms resolution). */
  engineMs: number;
  /** This process's clock when the event arrived. */
  seenMs: number;
}

export interface ImageEventWatch {
  /** Resolves with the image's `delete` event (at once if it was already seen). */
  deleted(imageId: string, timeoutMs: number): Promise<ImageEvent>;
  /** Whether a delete was seen, without waiting. */
  wasDeleted(imageId: string): ImageEvent | undefined;
  close(): void;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string };
  id?: string;
  timeNano?: number;
}

export async function watchImageEvents(docker: Dockerode): Promise<ImageEventWatch> {
  const stream = (await docker.getEvents({
    filters: { type: ['image'], event: ['delete'] },
  })) as NodeJS.ReadableStream & { destroy?: () => void };
  const deletes = new Map<string, ImageEvent>();
  const waiters = new Map<string, Array<(e: ImageEvent) => void>>();
  let buffer = '';
  stream.on('data', (chunk: Buffer | string) => {
    const seenMs = wallMs();
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const raw = JSON.parse(line) as RawEvent;
      const imageId = raw.Actor?.ID ?? raw.id;
      if (raw.Action !== 'delete' || !imageId || raw.timeNano === undefined) continue;
      const event: ImageEvent = { imageId, engineMs: raw.timeNano / 1e6, seenMs };
      deletes.set(imageId, event);
      for (const resolve of waiters.get(imageId) ?? []) resolve(event);
      waiters.delete(imageId);
    }
  });
  return {
    wasDeleted: (imageId) => deletes.get(imageId),
    deleted(imageId, timeoutMs) {
      const seen = deletes.get(imageId);
      if (seen) return Promise.resolve(seen);
      return new Promise<ImageEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          const list = waiters.get(imageId) ?? [];
          waiters.set(
            imageId,
            list.filter((f) => f !== done),
          );
          reject(new Error(`no delete event for ${imageId} within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (e: ImageEvent) => {
          clearTimeout(timer);
          resolve(e);
        };
        waiters.set(imageId, [...(waiters.get(imageId) ?? []), done]);
      });
    },
    close() {
      stream.removeAllListeners('data');
      stream.destroy?.();
    },
  };
}
