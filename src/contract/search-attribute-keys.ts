// Typed search attribute keys, shared by the workflows (upsert) and the clients (start, list),
// derived from the one table in search-attributes.ts.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeField } from './search-attributes.js';
import { SEARCH_ATTRIBUTE_FIELDS, SEARCH_ATTRIBUTE_TABLE } from './search-attributes.js';

const TEMPORAL_TYPE = {
  Keyword: SearchAttributeType.KEYWORD,
  Datetime: SearchAttributeType.DATETIME,
  Int: SearchAttributeType.INT,
} as const;

type TemporalTypeOf<F extends SearchAttributeField> =
  (typeof TEMPORAL_TYPE)[(typeof SEARCH_ATTRIBUTE_TABLE)[F]['type']];

export const SEARCH_ATTRIBUTE_KEYS = Object.fromEntries(
  SEARCH_ATTRIBUTE_FIELDS.map((f) => {
    const { name, type } = SEARCH_ATTRIBUTE_TABLE[f];
    return [f, defineSearchAttributeKey(name, TEMPORAL_TYPE[type])];
  }),
) as { readonly [F in SearchAttributeField]: ReturnType<typeof defineSearchAttributeKey<TemporalTypeOf<F>>> };
