import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { DbKind } from '../db/database.ts';
import type { NormalizedInventoryDef } from './inventory.ts';
import type { InventoryRegistry } from './registry.ts';
import { isTagField, SYSTEM_TAG_FIELD, USER_TAG_FIELD, type Literal, type QueryCondition, type QueryOp, type SubQuery, type WhereNode } from './ast.ts';
import { toColumnValue } from './values.ts';

type Eb = ExpressionBuilder<any, any>;

/**
 * Restricts the rows of an inventory a caller may see (tenant isolation). It is applied to the root
 * table of every query, of every ZQL sub-query and of every expansion hop (`vmNics.l3Network.name=…`),
 * so a condition cannot reveal whether a row the caller may not see exists.
 *
 * @example
 *   const restrict: RestrictHook = (eb, alias) =>
 *     eb(`${alias}.uuid`, 'in', eb.selectFrom('account_resource_ref').select('resourceUuid').where('accountUuid', '=', accountUuid));
 */
export type RestrictHook = (eb: Eb, alias: string, inventory: NormalizedInventoryDef) => Expression<SqlBool> | undefined;

/** Tag tables (created by the tag service's migrations): rows match an inventory by `resourceType` + `resourceUuid`. */
export const TAG_TABLES: Record<string, string> = { [USER_TAG_FIELD]: 'user_tag', [SYSTEM_TAG_FIELD]: 'system_tag' };

/** Ops that tags answer by inverting into `NOT IN (… positive op …)`, as ZStack's TagZQLExtension does. */
export const TAG_INVERSE: Partial<Record<QueryOp, QueryOp | null>> = { '!=': '=', 'not in': 'in', 'not like': 'like', 'is null': null };

export interface CompileContext {
  registry: InventoryRegistry;
  kind: DbKind;
  restrict?: RestrictHook;
  /** Next table alias number; `t0` is the root. */
  nextAlias: number;
}

export function newAlias(ctx: CompileContext): string {
  return `t${ctx.nextAlias++}`;
}

function invalid(details: string): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, details);
}

/** The queryable names of an inventory, for error messages that tell the user what would work. */
export function describeQueryable(def: NormalizedInventoryDef): string {
  const fields = Object.entries(def.fields).filter(([, f]) => !f.hidden).map(([n]) => n);
  const nested = Object.keys(def.expansions).map((n) => `${n}.*`);
  return [...fields, ...nested, USER_TAG_FIELD, SYSTEM_TAG_FIELD].join(', ');
}

/** Resolves a plain (non-nested) field to its column, refusing unknown and hidden ones. */
export function columnOf(def: NormalizedInventoryDef, field: string): { column: string; type: NormalizedInventoryDef['fields'][string]['type'] } {
  const f = Object.hasOwn(def.fields, field) ? def.fields[field] : undefined;
  if (!f || f.hidden) throw invalid(`unknown field '${field}' of ${def.name}; valid fields are: ${describeQueryable(def)}`);
  return { column: f.column, type: f.type };
}

/** Compiles a condition tree on `def` (whose table is aliased `alias`) to one SQL boolean expression. */
export function compileWhere(ctx: CompileContext, eb: Eb, def: NormalizedInventoryDef, alias: string, node: WhereNode): Expression<SqlBool> {
  if (node.kind === 'condition') return compileCondition(ctx, eb, def, alias, node.condition, node.condition.field.split('.'));
  const parts = node.children.map((c) => compileWhere(ctx, eb, def, alias, c));
  return node.kind === 'and' ? eb.and(parts) : eb.or(parts);
}

function compileCondition(ctx: CompileContext, eb: Eb, def: NormalizedInventoryDef, alias: string, cond: QueryCondition, path: string[]): Expression<SqlBool> {
  const [head, ...rest] = path;
  if (rest.length > 0) {
    // A nested path: `this.foreignKey IN (SELECT other.expandedKey FROM other WHERE <rest of the path>)`.
    // The operator, negative or not, stays in the innermost query, as ZStack's SQLConditionBuilder does.
    const exp = Object.hasOwn(def.expansions, head) ? def.expansions[head] : undefined;
    if (!exp) throw invalid(`unknown field '${cond.field}' of ${def.name}: '${head}' is not an expandable field; valid fields are: ${describeQueryable(def)}`);
    const target = ctx.registry.get(exp.inventory);
    const a = newAlias(ctx);
    const sub = eb
      .selectFrom(`${target.table} as ${a}`)
      .select(`${a}.${target.fields[exp.expandedKey].column}`)
      // Each hop is restricted too, so a condition on a nested field cannot probe rows the caller may not see.
      .where((ieb: Eb) => withRestriction(ctx, ieb, target, a, compileCondition(ctx, ieb, target, a, cond, rest)));
    return eb(`${alias}.${def.fields[exp.foreignKey].column}`, 'in', sub);
  }
  if (isTagField(head)) return compileTagCondition(ctx, eb, def, alias, head, cond);
  const { column, type } = columnOf(def, head);
  if ((cond.op === 'like' || cond.op === 'not like') && type !== 'string') {
    throw invalid(`operator '${cond.op}' needs a string field; '${cond.field}' of ${def.name} is a ${type}`);
  }
  const convert = (v: Literal) => toColumnValue(cond.field, type, v);
  return compare(ctx, eb, eb.ref(`${alias}.${column}`), cond, convert);
}

/**
 * Tags: `pk IN (SELECT resourceUuid FROM tag WHERE resourceType = ? AND tag <op> …)`; the negative
 * ops and `is null` become `pk NOT IN (… positive op …)`, i.e. "has no such tag".
 */
function compileTagCondition(ctx: CompileContext, eb: Eb, def: NormalizedInventoryDef, alias: string, tagField: string, cond: QueryCondition): Expression<SqlBool> {
  const inverse = TAG_INVERSE[cond.op];
  const negate = inverse !== undefined;
  const a = newAlias(ctx);
  const sub = eb
    .selectFrom(`${TAG_TABLES[tagField]} as ${a}`)
    .select(`${a}.resourceUuid`)
    .where((ieb: Eb) => {
      const byType = ieb(`${a}.resourceType`, '=', def.resourceType);
      if (inverse === null) return byType; // `is null`: no tag of this kind at all
      const positive: QueryCondition = negate ? { ...cond, op: inverse } : cond;
      return ieb.and([byType, compare(ctx, ieb, ieb.ref(`${a}.tag`), positive, (v) => String(v))]);
    });
  return eb(`${alias}.${def.fields[def.primaryKey].column}`, negate ? 'not in' : 'in', sub);
}

/** `ref <op> value`, with values converted to the column's type. */
function compare(ctx: CompileContext, eb: Eb, ref: Expression<any>, cond: QueryCondition, convert: (v: Literal) => unknown): Expression<SqlBool> {
  const { op } = cond;
  switch (op) {
    case 'is null':
      return eb(ref, 'is', null);
    case 'is not null':
      return eb(ref, 'is not', null);
    case 'in':
    case 'not in': {
      if (cond.subQuery) return eb(ref, op, compileSubQuery(ctx, eb, cond.subQuery));
      const values = cond.values ?? (cond.value === undefined ? undefined : [cond.value]);
      if (!values || values.length === 0) throw invalid(`operator '${op}' on '${cond.field}' needs at least one value`);
      return eb(ref, op, values.map(convert));
    }
    case 'like':
    case 'not like': {
      // Case-insensitive on both databases, like ZStack's MySQL collation; `%` and `_` are the user's wildcards.
      const pattern = String(single(cond));
      const like = eb(caseInsensitive(ctx, ref), op, pattern);
      const range = op === 'like' ? prefixRange(pattern) : undefined;
      return range ? eb.and([like, eb(ref, '>=', range[0]), eb(ref, '<', range[1])]) : like;
    }
    default:
      return eb(ref, op, convert(single(cond)));
  }
}

/**
 * `[prefix, next)` for a pattern `prefix%…` whose prefix has only characters no collation folds (digits,
 * `.`, `:`, `-`, `/`, space): every match then starts with exactly that prefix, so the range is implied by
 * the LIKE and lets the column's index find the rows (a case-insensitive LIKE cannot use it: at 100,000
 * NICs `vmNics.ip~=10.0.1.%` read every NIC, 75 ms, and 2 ms with the range).
 */
export function prefixRange(pattern: string): [string, string] | undefined {
  const m = /^([0-9.:\-/ ]+)%/.exec(pattern);
  if (!m) return undefined;
  const prefix = m[1];
  return [prefix, prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)];
}

function single(cond: QueryCondition): Literal {
  if (cond.value === undefined) throw invalid(`operator '${cond.op}' on '${cond.field}' needs a value`);
  return cond.value;
}

function caseInsensitive(ctx: CompileContext, ref: Expression<any>): Expression<any> {
  // SQLite's LIKE already ignores ASCII case; MariaDB columns are utf8mb4_bin, so ask for a ci collation.
  return ctx.kind === 'mysql' ? sql`${ref} COLLATE utf8mb4_general_ci` : ref;
}

/** ZQL `(query zone.uuid where …)`: a one-column select, restricted like any root query. */
export function compileSubQuery(ctx: CompileContext, eb: Eb, sq: SubQuery): Expression<any> {
  const def = ctx.registry.byEntity(sq.entity);
  if (!def) throw invalid(`unknown entity '${sq.entity}' in sub-query; valid entities are: ${ctx.registry.entities().join(', ')}`);
  const { column } = columnOf(def, sq.field);
  const a = newAlias(ctx);
  return eb
    .selectFrom(`${def.table} as ${a}`)
    .select(`${a}.${column}`)
    .where((ieb: Eb) => rootFilter(ctx, ieb, def, a, sq.where));
}

function withRestriction(ctx: CompileContext, eb: Eb, def: NormalizedInventoryDef, alias: string, cond: Expression<SqlBool>): Expression<SqlBool> {
  const restriction = ctx.restrict?.(eb, alias, def);
  return restriction ? eb.and([cond, restriction]) : cond;
}

/** The WHERE of a root query: the user's conditions AND the caller's restriction. */
export function rootFilter(ctx: CompileContext, eb: Eb, def: NormalizedInventoryDef, alias: string, where: WhereNode | undefined): Expression<SqlBool> {
  const parts: Expression<SqlBool>[] = [];
  if (where) parts.push(compileWhere(ctx, eb, def, alias, where));
  const restriction = ctx.restrict?.(eb, alias, def);
  if (restriction) parts.push(restriction);
  return eb.and(parts);
}
