import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_TYPES } from '../contract/search-attributes.js';

// CommonJS package: under Node's ESM loader its namespaces exist only on the default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;

const INDEXED_TYPE = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

const ALREADY_EXISTS = 6;

/** Not worth retrying: only a fresh database or a manual fix resolves it. */
export class SearchAttributeTypeError extends Error {
  override name = 'SearchAttributeTypeError';
}

/**
 * Makes sure every snapkeeper search attribute exists in the namespace with the expected type,
 * adding the missing ones (and returning their names), and fails loudly on a type clash: a workflow upserting an attribute of
 * the wrong type fails its task forever, which is far harder to diagnose than this error.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const missing = await findMissing(connection, namespace);
  if (missing.length > 0) {
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((name) => [name, INDEXED_TYPE[typeOf(name)]])),
      });
    } catch (err) {
      // A worker starting at the same time may have added them first.
      if ((err as { code?: unknown }).code !== ALREADY_EXISTS) throw err;
    }
    const still = await findMissing(connection, namespace);
    if (still.length > 0)
      throw new Error(`search attributes still missing in namespace ${namespace}: ${still.join(', ')}`);
  }
  return missing;
}

async function findMissing(connection: Connection, namespace: string): Promise<string[]> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  const missing: string[] = [];
  for (const name of Object.keys(SEARCH_ATTRIBUTE_TYPES)) {
    const actual = custom[name];
    if (actual === undefined || actual === null) {
      missing.push(name);
    } else if (actual !== INDEXED_TYPE[typeOf(name)]) {
      throw new SearchAttributeTypeError(
        `search attribute ${name} in namespace ${namespace} has type ${IndexedValueType[actual]}, expected ${typeOf(name)}`,
      );
    }
  }
  return missing;
}

function typeOf(name: string): keyof typeof INDEXED_TYPE {
  const type = SEARCH_ATTRIBUTE_TYPES[name];
  if (!type) throw new Error(`unknown search attribute ${name}`);
  return type;
}
