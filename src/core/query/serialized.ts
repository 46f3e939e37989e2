import type { InventoriesText } from '../db/read-worker.ts';

/**
 * A query page read on a worker thread comes back as the JSON text of its inventories (read-worker.ts),
 * the same text JSON.stringify gives for the objects. The result keeps that text: the REST layer writes
 * it into the reply as it is, and the objects are parsed only if something reads `inventories` (an
 * in-process caller, ZQL). Once anything has read or replaced them, they may have been changed, so the
 * text is given up and the reply is serialised from the objects as before.
 */
const texts = new WeakMap<object, InventoriesText>();

/** Gives `result` an `inventories` parsed from `page.text` when first read, and keeps the text until then. */
export function withInventoriesText<T extends { inventories?: Record<string, unknown>[] }>(result: T, page: InventoriesText): T {
  texts.set(result, page);
  let parsed: Record<string, unknown>[] | undefined;
  // An accessor that never redefines itself, so a frozen result (read-cache.ts freezes) still reads.
  Object.defineProperty(result, 'inventories', {
    configurable: true,
    enumerable: true,
    get: () => {
      texts.delete(result);
      return (parsed ??= JSON.parse(page.text) as Record<string, unknown>[]);
    },
    set: (value: Record<string, unknown>[] | undefined) => {
      texts.delete(result);
      parsed = value;
    },
  });
  return result;
}

/** The JSON text of a result's inventories while nothing has read them; undefined otherwise. */
export function inventoriesText(result: unknown): InventoriesText | undefined {
  return typeof result === 'object' && result !== null ? texts.get(result) : undefined;
}
