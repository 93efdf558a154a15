/**
 * What the in-memory adapters share with DynamoDB below the adapter code: items are stored marshalled, with the same
 * `@aws-sdk/util-dynamodb` options the DynamoDB adapters pass, so whatever DynamoDB would refuse to store (undefined
 * values without `removeUndefinedValues`, NaN, class instances, an item over 400 KB, an empty key) is refused here too,
 * and every read returns a fresh copy, as a network read does: a caller that mutates what it read (the updater adds to
 * the statistics it got) cannot change the stored item behind the store's back.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBServiceException,
} from '@aws-sdk/client-dynamodb';
import { marshall, type marshallOptions, unmarshall } from '@aws-sdk/util-dynamodb';

export type Attributes = Record<string, AttributeValue>;

/** DynamoDB's item size limit (400 KB, attribute names included). */
export const MAX_ITEM_BYTES = 400 * 1024;

/** The error DynamoDB answers when a condition expression is false. */
export function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** DynamoDB's `ValidationException` (a request DynamoDB refuses before looking at any item). */
export function validationError(message: string): DynamoDBServiceException {
  return new DynamoDBServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: {},
  });
}

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).byteLength;

/**
 * Item size by DynamoDB's documented rules: attribute name bytes plus value bytes; a number is about one byte per two
 * significant digits plus one; lists and maps 3 bytes plus one per element. Approximate for numbers, as DynamoDB's
 * own documentation is; exact for strings and binaries, which is what makes items large in this engine.
 */
export function itemSize(item: Attributes): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8Length(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8Length(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.L !== undefined) return 3 + v.L.reduce((s, e) => s + 1 + valueSize(e), 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((s, [k, e]) => s + 1 + utf8Length(k) + valueSize(e), 0);
  if (v.SS !== undefined) return v.SS.reduce((s, e) => s + utf8Length(e), 0);
  if (v.NS !== undefined) return v.NS.reduce((s, e) => s + numberSize(e), 0);
  if (v.BS !== undefined) return v.BS.reduce((s, e) => s + e.byteLength, 0);
  return 0;
}

function numberSize(n: string): number {
  const digits = n.replace(/^-/, '').split(/e/i)[0]!.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** DynamoDB's number range: magnitudes above 1E+126 or below 1E-130 are refused. */
function checkNumbers(v: AttributeValue): void {
  if (v.N !== undefined) {
    const x = Math.abs(Number(v.N));
    if (x >= 1e126 || (x !== 0 && x < 1e-130)) throw validationError(`Number out of range: ${v.N}`);
  } else if (v.L !== undefined) v.L.forEach(checkNumbers);
  else if (v.M !== undefined) Object.values(v.M).forEach(checkNumbers);
}

/**
 * Marshalls an item as the DynamoDB adapter does (same options), then applies DynamoDB's own checks: non-empty string
 * keys, the number range and the item size. Throws what the SDK or DynamoDB would throw.
 */
export function toStored(
  item: Record<string, unknown>,
  keys: readonly string[],
  options?: marshallOptions,
): Attributes {
  const attrs = marshall(item, options) as Attributes;
  for (const k of keys) {
    const v = attrs[k];
    if (v?.S === undefined) throw validationError(`One of the required keys was not given a value: ${k}`);
    if (v.S.length === 0)
      throw validationError(`The AttributeValue for a key attribute cannot contain an empty string value. Key: ${k}`);
  }
  for (const v of Object.values(attrs)) checkNumbers(v);
  if (itemSize(attrs) > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
  return attrs;
}

/** A fresh JavaScript copy of a stored item, as `unmarshall` gives the DynamoDB adapter after a read. */
export const fromStored = (attrs: Attributes): Record<string, unknown> => unmarshall(attrs);

/** A key check for reads (GetItem, BatchGetItem): DynamoDB refuses an empty string key. */
export function checkKey(name: string, value: string): void {
  if (value.length === 0)
    throw validationError(`The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`);
}
