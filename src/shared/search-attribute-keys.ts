// Typed search attribute keys, shared by the workflows (upsert) and the clients (start, list).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './names.js';

export const SA = {
  projectId: defineSearchAttributeKey(SEARCH_ATTRIBUTES.projectId, SearchAttributeType.KEYWORD),
  workItemId: defineSearchAttributeKey(SEARCH_ATTRIBUTES.workItemId, SearchAttributeType.KEYWORD),
  image: defineSearchAttributeKey(SEARCH_ATTRIBUTES.image, SearchAttributeType.KEYWORD),
  host: defineSearchAttributeKey(SEARCH_ATTRIBUTES.host, SearchAttributeType.KEYWORD),
  state: defineSearchAttributeKey(SEARCH_ATTRIBUTES.state, SearchAttributeType.KEYWORD),
  expiresAt: defineSearchAttributeKey(SEARCH_ATTRIBUTES.expiresAt, SearchAttributeType.DATETIME),
  sizeBytes: defineSearchAttributeKey(SEARCH_ATTRIBUTES.sizeBytes, SearchAttributeType.INT),
  repository: defineSearchAttributeKey(SEARCH_ATTRIBUTES.repository, SearchAttributeType.KEYWORD),
  pullRequest: defineSearchAttributeKey(SEARCH_ATTRIBUTES.pullRequest, SearchAttributeType.INT),
} as const;
