// `snapkeeper explain <image> [--host H] [--json]`: why an image stays on its host, or why it would
// go. It reads the engine of DOCKER_HOST (the one the host's Docker worker uses) and, for a managed
// image, Temporal; it changes nothing on either. The decision is src/service/explain-image.ts.
import { IMAGE_REF_MAX_LENGTH, IMAGE_REF_PATTERN } from '../../contract/limits.js';
import { createDockerPort, createDockerode } from '../../docker/dockerode-adapter.js';
import { gatherEngineFacts, gatherExplainFacts, needsTemporal } from '../../service/explain-gather.js';
import type { EngineFacts } from '../../service/explain-gather.js';
import { explainImage } from '../../service/explain-image.js';
import { UsageError } from '../cli-errors.js';
import { ExitCode } from '../exit-codes.js';
import type { Runtime } from '../runtime.js';
import { printExplanation } from './explain-output.js';

export interface ExplainOptions {
  host?: string;
  json?: boolean;
}

/** What dockerode connects to without DOCKER_HOST. */
const DEFAULT_ENGINE = 'unix:///var/run/docker.sock';

export async function runExplain(rt: Runtime, ref: string, options: ExplainOptions): Promise<number> {
  if (ref.length > IMAGE_REF_MAX_LENGTH || !IMAGE_REF_PATTERN.test(ref))
    throw new UsageError(`not an image reference or id: ${JSON.stringify(ref)}`);
  const config = rt.config();
  const hostId = options.host ?? config.hostId;
  const engine = config.docker.host ?? DEFAULT_ENGINE;
  let engineFacts: EngineFacts | null;
  try {
    engineFacts = await gatherEngineFacts(createDockerPort(createDockerode(config.docker.host)), ref);
  } catch (err) {
    rt.stderr.write(
      `snapkeeper: cannot read the Docker engine at ${engine}: ${err instanceof Error ? err.message : String(err)} (set DOCKER_HOST)\n`,
    );
    return ExitCode.problem;
  }
  if (!engineFacts) {
    rt.stderr.write(`no image ${ref} on host ${hostId} (engine ${engine})\n`);
    return ExitCode.notFound;
  }
  // An unmanaged image is answered from the engine alone: no Temporal connection is made.
  const client = needsTemporal(engineFacts.image) ? (await rt.session()).client : null;
  const facts = await gatherExplainFacts({
    ref,
    hostId,
    engine,
    engineFacts,
    client,
    configGraceSeconds: Math.round(config.reconcile.orphanGraceMs / 1000),
  });
  printExplanation(rt.stdout, explainImage(facts), options.json);
  return ExitCode.ok;
}
