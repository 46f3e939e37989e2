import type { Literal, QueryCondition, QueryOp, SortSpec, SubQuery, WhereNode } from './ast.ts';
import { tokenize, zqlSyntaxError, type Token } from './zql-lexer.ts';

/** One parsed ZQL statement (`query …` or `count …`). */
export interface ZqlStatement {
  kind: 'query' | 'count';
  entity: string;
  /** `query zone.uuid,name`: the projected fields. */
  fields?: string[];
  where?: WhereNode;
  /** `return with (total)`. */
  returnWith: string[];
  orderBy: SortSpec[];
  limit?: number;
  offset?: number;
  /** `named as 'x'`: echoed back as the result's `name`. */
  name?: string;
}

const CLAUSES_AFTER_WHERE = "'and', 'or', 'return with', 'order by', 'limit', 'offset', 'named as', ';' or the end";

/**
 * Recursive-descent parser for the ZQL subset Strato runs:
 *
 *   zqls      := stmt (';' stmt)* [';']
 *   stmt      := ('query' | 'count') entity ['.' word (',' word)*] ['where' or] ['return' 'with' '(' word (',' word)* ')']
 *                ['order' 'by' word ['asc'|'desc'] (',' …)*] ['limit' INT] ['offset' INT] ['named' 'as' STRING]
 *   or        := and ('or' and)*          -- AND binds tighter than OR, as in SQL
 *   and       := primary ('and' primary)*
 *   primary   := '(' or ')' | condition
 *   condition := path op [value]          -- path := word ('.' word)*
 *   op        := = | != | > | >= | < | <= | like | not like | in | not in | is null | is not null
 *   value     := STRING | NUMBER | true | false | '(' value (',' value)* ')' | '(' 'query' entity '.' word ['where' or] ')'
 *
 * Keywords are case-insensitive and not reserved.
 *
 * @example parseZql("query cluster where zone.name='z1' and (state='Enabled' or hypervisorType in ('KVM')) limit 10")
 */
export function parseZql(text: string): ZqlStatement[] {
  return new ZqlParser(text).statements();
}

class ZqlParser {
  readonly #tokens: Token[];
  #i = 0;

  constructor(private readonly text: string) {
    this.#tokens = tokenize(text);
  }

  statements(): ZqlStatement[] {
    const out: ZqlStatement[] = [];
    for (;;) {
      out.push(this.statement());
      if (this.punct(';')) {
        if (this.peek().type === 'eof') break;
        continue;
      }
      if (this.peek().type === 'eof') break;
      throw this.fail(out.at(-1)?.where ? CLAUSES_AFTER_WHERE : "'where', 'return with', 'order by', 'limit', 'offset', 'named as', ';' or the end");
    }
    return out;
  }

  private statement(): ZqlStatement {
    const kind = this.keyword('query') ? 'query' : this.keyword('count') ? 'count' : undefined;
    if (!kind) throw this.fail("'query' or 'count'");
    const entity = this.word('an entity name (e.g. zone, vminstance)');
    const st: ZqlStatement = { kind, entity, returnWith: [], orderBy: [] };
    if (this.punct('.')) {
      st.fields = [this.word('a field name')];
      while (this.punct(',')) st.fields.push(this.word('a field name'));
    }
    if (this.keyword('where')) st.where = this.or();
    if (this.peekKeyword('return')) {
      this.next();
      this.expectKeyword('with');
      this.expectPunct('(');
      do st.returnWith.push(this.word("a return-with name ('total')")); while (this.punct(','));
      this.expectPunct(')');
    }
    if (this.peekKeyword('order')) {
      this.next();
      this.expectKeyword('by');
      do {
        const field = this.word('a field name to order by');
        let direction: 'asc' | 'desc' = 'asc';
        if (this.keyword('desc')) direction = 'desc';
        else this.keyword('asc');
        st.orderBy.push({ field, direction });
      } while (this.punct(','));
    }
    if (this.keyword('limit')) st.limit = this.nonNegativeInt('limit');
    if (this.keyword('offset')) st.offset = this.nonNegativeInt('offset');
    if (this.peekKeyword('named')) {
      this.next();
      this.expectKeyword('as');
      const t = this.next();
      if (t.type !== 'string') throw this.fail('a quoted name', t);
      st.name = t.text;
    }
    return st;
  }

  private or(): WhereNode {
    const children = [this.and()];
    while (this.keyword('or')) children.push(this.and());
    return children.length === 1 ? children[0] : { kind: 'or', children };
  }

  private and(): WhereNode {
    const children = [this.primary()];
    while (this.keyword('and')) children.push(this.primary());
    return children.length === 1 ? children[0] : { kind: 'and', children };
  }

  private primary(): WhereNode {
    if (this.punct('(')) {
      const inner = this.or();
      this.expectPunct(')');
      return inner;
    }
    return { kind: 'condition', condition: this.condition() };
  }

  private condition(): QueryCondition {
    const parts = [this.word('a field name (or a parenthesised condition)')];
    while (this.punct('.')) parts.push(this.word('a field name after'));
    const field = parts.join('.');
    const op = this.operator();
    if (op === 'is null' || op === 'is not null') return { field, op };
    if (op === 'in' || op === 'not in') {
      this.expectPunct('(');
      if (this.peekKeyword('query')) {
        const subQuery = this.subQuery();
        this.expectPunct(')');
        return { field, op, subQuery };
      }
      const values = [this.literal()];
      while (this.punct(',')) values.push(this.literal());
      this.expectPunct(')');
      return { field, op, values };
    }
    return { field, op, value: this.literal() };
  }

  private subQuery(): SubQuery {
    this.next(); // 'query'
    const entity = this.word('an entity name');
    this.expectPunct('.');
    const field = this.word('the one field the sub-query returns (e.g. zone.uuid)');
    const sq: SubQuery = { entity, field };
    if (this.keyword('where')) sq.where = this.or();
    return sq;
  }

  private operator(): QueryOp {
    const t = this.peek();
    if (t.type === 'punct' && ['=', '!=', '>', '>=', '<', '<='].includes(t.text)) {
      this.next();
      return t.text as QueryOp;
    }
    if (this.keyword('like')) return 'like';
    if (this.keyword('in')) return 'in';
    if (this.keyword('not')) {
      if (this.keyword('like')) return 'not like';
      if (this.keyword('in')) return 'not in';
      throw this.fail("'like' or 'in' after 'not'");
    }
    if (this.keyword('is')) {
      const not = this.keyword('not');
      if (!this.keyword('null')) throw this.fail(not ? "'null' after 'is not'" : "'null' or 'not null' after 'is'");
      return not ? 'is not null' : 'is null';
    }
    throw this.fail("an operator (=, !=, >, >=, <, <=, like, not like, in, not in, is null, is not null)");
  }

  private literal(): Literal {
    const t = this.peek();
    if (t.type === 'string') { this.next(); return t.text; }
    // Numbers keep their text: the field's declared type decides what they become (`007` stays `007` for strings).
    if (t.type === 'number') { this.next(); return t.text; }
    if (t.type === 'word' && /^(true|false)$/i.test(t.text)) { this.next(); return t.text.toLowerCase() === 'true'; }
    throw this.fail('a value (a quoted string, a number, true or false)');
  }

  private nonNegativeInt(what: string): number {
    const t = this.peek();
    if (t.type !== 'number' || !/^\d+$/.test(t.text)) throw this.fail(`a non-negative integer after '${what}'`);
    this.next();
    return Number(t.text);
  }

  // --- token helpers -------------------------------------------------------------------------

  private peek(): Token {
    return this.#tokens[this.#i];
  }

  private next(): Token {
    const t = this.#tokens[this.#i];
    if (t.type !== 'eof') this.#i++;
    return t;
  }

  private peekKeyword(k: string): boolean {
    const t = this.peek();
    return t.type === 'word' && t.text.toLowerCase() === k;
  }

  private keyword(k: string): boolean {
    if (!this.peekKeyword(k)) return false;
    this.next();
    return true;
  }

  private expectKeyword(k: string): void {
    if (!this.keyword(k)) throw this.fail(`'${k}'`);
  }

  private punct(p: string): boolean {
    const t = this.peek();
    if (t.type !== 'punct' || t.text !== p) return false;
    this.next();
    return true;
  }

  private expectPunct(p: string): void {
    if (!this.punct(p)) throw this.fail(`'${p}'`);
  }

  private word(what: string): string {
    const t = this.peek();
    if (t.type !== 'word') throw this.fail(what);
    this.next();
    return t.text;
  }

  private fail(expected: string, at: Token = this.peek()) {
    const found = at.type === 'eof' ? 'the end of the text' : at.type === 'string' ? `the string '${at.text}'` : `'${at.text}'`;
    return zqlSyntaxError(this.text, at.pos, `expected ${expected} but found ${found}`);
  }
}
