import { describe, expect, it } from 'vitest';
import { parseZql } from './zql-parser.ts';
import { StratoError } from '../errors/error-code.ts';

function syntaxError(zql: string): string {
  try {
    parseZql(zql);
  } catch (e) {
    expect(e).toBeInstanceOf(StratoError);
    expect((e as StratoError).errorCode.code).toBe('SYS.1007');
    return (e as StratoError).errorCode.details ?? '';
  }
  throw new Error(`no syntax error in ${zql}`);
}

describe('ZQL parser', () => {
  it('parses a full query statement with every clause', () => {
    const [st] = parseZql("QUERY cluster.uuid,name WHERE zone.name = 'z1' AND cpu >= 4 Return With (total) ORDER BY name DESC, uuid LIMIT 10 OFFSET 20 named as 'q1'");
    expect(st).toEqual({
      kind: 'query', entity: 'cluster', fields: ['uuid', 'name'],
      where: { kind: 'and', children: [
        { kind: 'condition', condition: { field: 'zone.name', op: '=', value: 'z1' } },
        { kind: 'condition', condition: { field: 'cpu', op: '>=', value: '4' } },
      ] },
      returnWith: ['total'], orderBy: [{ field: 'name', direction: 'desc' }, { field: 'uuid', direction: 'asc' }],
      limit: 10, offset: 20, name: 'q1',
    });
  });

  it('binds and tighter than or, and honours parentheses', () => {
    const [a] = parseZql("query zone where name='a' or name='b' and state='x'");
    expect(a.where).toMatchObject({ kind: 'or', children: [{ kind: 'condition' }, { kind: 'and' }] });
    const [b] = parseZql("query zone where (name='a' or name='b') and state='x'");
    expect(b.where).toMatchObject({ kind: 'and', children: [{ kind: 'or' }, { kind: 'condition' }] });
  });

  it('parses every operator and value kind', () => {
    const [st] = parseZql(`query host where a like 'x%' and b not like "y%" and c in ('1', 2, true) and d not in (3) and e is null and f is not null
      and g != false and h > -1.5 and i < 2 and j <= 3`);
    const conds = (st.where as any).children.map((c: any) => c.condition);
    expect(conds).toEqual([
      { field: 'a', op: 'like', value: 'x%' },
      { field: 'b', op: 'not like', value: 'y%' },
      { field: 'c', op: 'in', values: ['1', '2', true] },
      { field: 'd', op: 'not in', values: ['3'] },
      { field: 'e', op: 'is null' },
      { field: 'f', op: 'is not null' },
      { field: 'g', op: '!=', value: false },
      { field: 'h', op: '>', value: '-1.5' },
      { field: 'i', op: '<', value: '2' },
      { field: 'j', op: '<=', value: '3' },
    ]);
  });

  it('parses sub-queries in in/not in', () => {
    const [st] = parseZql("query cluster where zoneUuid in (query zone.uuid where name='z1' or name = 'z2')");
    expect(st.where).toEqual({ kind: 'condition', condition: { field: 'zoneUuid', op: 'in', subQuery: {
      entity: 'zone', field: 'uuid', where: { kind: 'or', children: [
        { kind: 'condition', condition: { field: 'name', op: '=', value: 'z1' } },
        { kind: 'condition', condition: { field: 'name', op: '=', value: 'z2' } },
      ] } } } });
  });

  it('splits statements on ; and accepts a trailing one; count statements too', () => {
    const sts = parseZql('query zone; count cluster where state = "Enabled";');
    expect(sts.map((s) => s.kind)).toEqual(['query', 'count']);
  });

  it('keeps quotes of the other kind inside strings and treats keywords inside strings as data', () => {
    const [st] = parseZql(`query zone where name = "it's; drop table zone" and description = 'say "hi"'`);
    const conds = (st.where as any).children.map((c: any) => c.condition.value);
    expect(conds).toEqual(["it's; drop table zone", 'say "hi"']);
  });

  it('allows keywords as field names', () => {
    const [st] = parseZql("query zone where type = 'zstack' and count = 1");
    expect((st.where as any).children[1].condition.field).toBe('count');
  });

  it.each([
    ['', /position 1 .*expected 'query' or 'count'/],
    ['select name from zone', /position 1 near 'select name from zon'.*expected 'query' or 'count' but found 'select'/],
    ['query * from zone', /position 7 .*unexpected character '\*'/],
    ['query zone were name = 1', /position 12 near 'were name = 1'.*expected 'where'/],
    ["query zone where name 'z1'", /position 23.*expected an operator/],
    ['query zone where name =', /expected a value .* but found the end of the text/],
    ["query zone where name = 'z1", /position 25.*unterminated string/],
    ["query zone where (name = 'z1'", /expected '\)' but found the end/],
    ['query zone where name in ()', /expected a value/],
    ['query zone limit -1', /expected a non-negative integer after 'limit'/],
    ['query zone limit ten', /expected a non-negative integer/],
    ["query zone where name is 'x'", /expected 'null' or 'not null' after 'is'/],
    ["query zone where name not = 'x'", /expected 'like' or 'in' after 'not'/],
    ['query zone where name = x', /expected a value/],
    ['query zone where name = 1 #', /unexpected character '#'/],
    ['query zone order name', /expected 'by'/],
  ])('reports %j as a syntax error with position and expectation', (zql, msg) => {
    expect(syntaxError(zql)).toMatch(msg);
  });
});
