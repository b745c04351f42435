import type { RecordCondition, StoredRecord } from './port.ts';

/**
 * Whether `record` meets `condition` (Storage.consumeAndInsertIf) as PostgreSQL's
 * `payload @> expected` decides it for JSON scalars: present, and every expected field an own
 * field of the payload holding the same value (`null` only where the field is present and null).
 */
export function meetsCondition(record: StoredRecord | undefined, condition: RecordCondition): boolean {
  if (!record) return false;
  const payload = record.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false;
  return Object.entries(condition.expected).every(
    ([field, value]) => Object.hasOwn(payload, field) && (payload as Record<string, unknown>)[field] === value,
  );
}

/** How many conditions one `Storage.consumeAndInsertIf` takes at most (PostgreSQL prepares a statement for each number). */
export const MAX_CONDITIONS = 3;

/** @throws RangeError unless there are 1 to MAX_CONDITIONS conditions (a caller's mistake, not a request's). */
export function assertConditionCount(conditions: ReadonlyArray<RecordCondition>): void {
  if (conditions.length < 1 || conditions.length > MAX_CONDITIONS) {
    throw new RangeError(`consumeAndInsertIf takes 1 to ${MAX_CONDITIONS} conditions, got ${conditions.length}`);
  }
}
