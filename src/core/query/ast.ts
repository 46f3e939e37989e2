/**
 * The condition AST shared by both front ends (REST `q=` strings and ZQL text). Both parse into these
 * shapes; `compile-where.ts` is the only place that turns them into SQL.
 */

/** ZStack's QueryOp strings (header/query/QueryOp.java), spelled exactly as ZStack spells them. */
export const QUERY_OPS = ['=', '!=', '>', '>=', '<', '<=', 'in', 'not in', 'like', 'not like', 'is null', 'is not null'] as const;
export type QueryOp = (typeof QUERY_OPS)[number];

/** A literal as the user wrote it: q= values are always strings; ZQL may give numbers and booleans. */
export type Literal = string | number | boolean;

/** `(query zone.uuid where name='z1')` inside a ZQL `in`/`not in`. */
export interface SubQuery {
  entity: string;
  field: string;
  where?: WhereNode;
}

/**
 * One condition. `field` may be a nested path through expansions (`cluster.zone.name`) and may end
 * in a tag pseudo-field (`__userTag__`, `__systemTag__`).
 * - `value` for single-value ops, `values` for `in`/`not in`, neither for the null checks;
 * - `subQuery` instead of `values` for ZQL `in (query …)`.
 */
export interface QueryCondition {
  field: string;
  op: QueryOp;
  value?: Literal;
  values?: Literal[];
  subQuery?: SubQuery;
}

/** A boolean tree of conditions: q= gives a flat AND; ZQL may nest and/or with parentheses. */
export type WhereNode =
  | { kind: 'condition'; condition: QueryCondition }
  | { kind: 'and' | 'or'; children: WhereNode[] };

export const USER_TAG_FIELD = '__userTag__';
export const SYSTEM_TAG_FIELD = '__systemTag__';

export function isTagField(name: string): boolean {
  return name === USER_TAG_FIELD || name === SYSTEM_TAG_FIELD;
}

/** Wraps conditions into an AND node (undefined when there are none). */
export function allOf(conditions: readonly QueryCondition[]): WhereNode | undefined {
  if (conditions.length === 0) return undefined;
  return { kind: 'and', children: conditions.map((condition) => ({ kind: 'condition' as const, condition })) };
}

export interface SortSpec {
  field: string;
  direction: 'asc' | 'desc';
}
