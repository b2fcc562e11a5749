import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ID_PATTERN, MAX_TTL_SECONDS, REPOSITORY_PATTERN } from '../contract/limits.js';
import { parseDuration } from './config.js';

const ttl = z.union([z.number().int(), z.string()]).transform((v, ctx) => {
  const seconds =
    typeof v === 'number'
      ? v
      : (() => {
          try {
            return Math.round(parseDuration(v) / 1000);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return 0;
          }
        })();
  if (seconds < 1 || seconds > MAX_TTL_SECONDS) {
    ctx.addIssue({ code: 'custom', message: `ttl must be from 1s to ${MAX_TTL_SECONDS}s` });
  }
  return seconds;
});

const branchRule = z
  .object({
    repository: z.string().regex(REPOSITORY_PATTERN, 'repository must be "owner/name"'),
    /** Matched against pull_request.head.ref; the named group `workItemId` (or group 1) is the work item. */
    pattern: z.string().min(1).max(500),
  })
  .strict()
  .transform((rule, ctx) => {
    let regex: RegExp;
    try {
      regex = new RegExp(rule.pattern);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `pattern is not a valid regular expression: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
    return { repository: rule.repository, pattern: rule.pattern, regex };
  });

const projectPolicy = z
  .object({
    enabled: z.boolean().optional(),
    ttl: ttl.optional(),
    slidingTtl: z.boolean().optional(),
    maxSnapshots: z.number().int().min(1).optional(),
    branchRules: z.array(branchRule).max(50).optional(),
  })
  .strict();

const policyFile = z
  .object({
    defaults: projectPolicy.omit({ branchRules: true }).optional(),
    projects: z
      .record(z.string().regex(ID_PATTERN, 'project ids: letters, digits, ".", "_", "-", "/"'), projectPolicy)
      .optional(),
  })
  .strict();

export interface BranchRule {
  repository: string;
  pattern: string;
  regex: RegExp;
}

export interface EffectivePolicy {
  enabled: boolean;
  ttlSeconds: number | undefined;
  slidingTtl: boolean | undefined;
  maxSnapshots: number | undefined;
}

export interface ProjectPolicies {
  /** Settings for one project: its own entry over the defaults over built-in values. */
  forProject(projectId: string): EffectivePolicy;
  /** The work items a branch of a repository belongs to, by every matching rule. */
  workItemsForBranch(repository: string, branch: string): Array<{ projectId: string; workItemId: string }>;
  /**
   * The work items a pull request's head branch belongs to. Only a branch of the base repository
   * itself counts: a fork's owner names its branches freely (a fork branch named like a work item
   * must never end that work item's snapshot), so a pull request from a fork matches no rule.
   */
  workItemsForPullRequest(pr: PullRequestHead): Array<{ projectId: string; workItemId: string }>;
}

export interface PullRequestHead {
  /** The base repository, `owner/name`. */
  repository: string;
  /** The repository the head branch lives in; null when GitHub no longer knows it (a deleted fork). */
  headRepository: string | null;
  headRef: string;
}

export function parseProjectPolicies(text: string, source = 'policy'): ProjectPolicies {
  let raw: unknown;
  try {
    raw = text.trim().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON or YAML: ${(err as Error).message}`);
  }
  const parsed = policyFile.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: invalid project policy:\n${lines.join('\n')}`);
  }
  return buildPolicies(parsed.data);
}

export async function loadProjectPolicies(path: string | undefined): Promise<ProjectPolicies> {
  if (!path) return buildPolicies({});
  return parseProjectPolicies(await readFile(path, 'utf8'), path);
}

type PolicyFile = z.infer<typeof policyFile>;

function buildPolicies(file: PolicyFile): ProjectPolicies {
  const defaults = file.defaults ?? {};
  // Keyed by project id, which is input: a Map, so `constructor` or `toString` is just a project.
  const projects = new Map(Object.entries(file.projects ?? {}));
  const policies: ProjectPolicies = {
    forProject(projectId) {
      const own = projects.get(projectId) ?? {};
      return {
        enabled: own.enabled ?? defaults.enabled ?? true,
        ttlSeconds: own.ttl ?? defaults.ttl,
        slidingTtl: own.slidingTtl ?? defaults.slidingTtl,
        maxSnapshots: own.maxSnapshots ?? defaults.maxSnapshots,
      };
    },
    workItemsForBranch(repository, branch) {
      const found: Array<{ projectId: string; workItemId: string }> = [];
      for (const [projectId, policy] of projects) {
        for (const rule of policy.branchRules ?? []) {
          if (rule.repository.toLowerCase() !== repository.toLowerCase()) continue;
          const m = rule.regex.exec(branch);
          const workItemId = m?.groups?.workItemId ?? m?.[1];
          if (workItemId && ID_PATTERN.test(workItemId)) found.push({ projectId, workItemId });
        }
      }
      return found;
    },
    workItemsForPullRequest({ repository, headRepository, headRef }) {
      if (headRepository === null || headRepository.toLowerCase() !== repository.toLowerCase()) return [];
      return policies.workItemsForBranch(repository, headRef);
    },
  };
  return policies;
}
