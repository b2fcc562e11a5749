// The search attributes snapshot workflows publish, in one table: the field, the name users query
// on, and its Temporal type. Pure: the package entry re-exports it, and search-attribute-keys.ts
// derives the typed keys from it.

export const SEARCH_ATTRIBUTE_TABLE = {
  projectId: { name: 'SnapshotProjectId', type: 'Keyword' },
  workItemId: { name: 'SnapshotWorkItemId', type: 'Keyword' },
  image: { name: 'SnapshotImage', type: 'Keyword' },
  host: { name: 'SnapshotHost', type: 'Keyword' },
  state: { name: 'SnapshotState', type: 'Keyword' },
  expiresAt: { name: 'SnapshotExpiresAt', type: 'Datetime' },
  sizeBytes: { name: 'SnapshotSizeBytes', type: 'Int' },
  repository: { name: 'SnapshotRepository', type: 'Keyword' },
  pullRequest: { name: 'SnapshotPullRequest', type: 'Int' },
} as const;

export type SearchAttributeField = keyof typeof SEARCH_ATTRIBUTE_TABLE;
export type SearchAttributeTypeName = 'Keyword' | 'Datetime' | 'Int';
type Table = typeof SEARCH_ATTRIBUTE_TABLE;

export const SEARCH_ATTRIBUTE_FIELDS = Object.keys(SEARCH_ATTRIBUTE_TABLE) as SearchAttributeField[];

/** Field → search attribute name, for visibility queries. */
export const SEARCH_ATTRIBUTES = Object.fromEntries(
  SEARCH_ATTRIBUTE_FIELDS.map((f) => [f, SEARCH_ATTRIBUTE_TABLE[f].name]),
) as { readonly [K in SearchAttributeField]: Table[K]['name'] };

/** Name → Temporal type, as the dev server flag `--search-attribute Name=Type` wants them. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, SearchAttributeTypeName> = Object.fromEntries(
  SEARCH_ATTRIBUTE_FIELDS.map((f) => [SEARCH_ATTRIBUTE_TABLE[f].name, SEARCH_ATTRIBUTE_TABLE[f].type]),
);
