// A Docker engine's data root on a small tmpfs that the chaos run fills to the last block while
// commits and removals go on: the engine then answers "no space left on device" (ENOSPC) to
// commits, to containers writing their layer, and to its own metadata writes.
import { execFile } from 'node:child_process';
import { mkdir, open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FullDisk {
  readonly dir: string;
  readonly sizeMiB: number;
  /** Writes a filler file until the disk refuses a single block more; the bytes it holds now. */
  fill(): Promise<number>;
  /** Removes the filler; the disk has its room back. */
  free(): Promise<void>;
  /** Percent of the disk in use, as df counts it. */
  usedPercent(): Promise<number>;
  unmount(): Promise<void>;
}

const FILLER = '.chaos-filler';

/** Mounts a tmpfs of `sizeMiB` at `dir` (created if missing). Needs root, as `mount` does. */
export async function mountSmallDisk(dir: string, sizeMiB: number): Promise<FullDisk> {
  if (process.getuid?.() !== 0) throw new Error(`mounting a tmpfs at ${dir} needs root`);
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  const filler = join(dir, FILLER);
  let mounted = true;
  return {
    dir,
    sizeMiB,
    async fill() {
      const file = await open(filler, 'a');
      try {
        // Large writes first, then ever smaller ones, so the last free block goes too.
        for (const size of [4 << 20, 256 << 10, 4 << 10, 512]) {
          const chunk = Buffer.alloc(size, 0x5a);
          for (;;) {
            try {
              await file.write(chunk);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
        return (await file.stat()).size;
      } finally {
        await file.close();
      }
    },
    async free() {
      await unlink(filler).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
    async usedPercent() {
      const s = await statfs(dir);
      const used = s.blocks - s.bfree;
      return (100 * used) / (used + s.bavail);
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await unlink(filler).catch(() => undefined);
      // Lazy: a mount the stopped engine left below it goes with it.
      await run('umount', ['-l', dir]);
    },
  };
}
