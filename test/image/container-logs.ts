import type Dockerode from 'dockerode';

/**
 * A container's output as text. Without a TTY the engine frames stdout and stderr (an 8-byte
 * header, its last 4 bytes the frame's length, then the frame); the frames are joined in order.
 */
export async function containerLogs(container: Dockerode.Container): Promise<string> {
  const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const length = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Runs `cmd` in a fresh container of `image` (no network) and returns its output and exit code. */
export async function runOnce(
  docker: Dockerode,
  image: string,
  cmd: string[],
): Promise<{ output: string; exitCode: number }> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: cmd,
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    return { output: await containerLogs(container), exitCode: StatusCode };
  } finally {
    await container.remove({ force: true });
  }
}
