import { describe, expect, it } from 'vitest';
import { queryOptionsFromRest, queryReplyBody } from './rest-params.ts';
import { ZoneInv } from './test-inventories.ts';

describe('REST query parameters (ZStack handleQueryApi)', () => {
  it('reads repeated q, paging, counting, sort and fields', () => {
    expect(queryOptionsFromRest({
      q: ['name=zone 1', 'state?=Enabled,Disabled'], limit: '10', start: '0', replyWithCount: 'TRUE', count: 'yes',
      sort: '-createDate', fields: 'uuid,name', groupBy: 'state', filterName: 'f1', other: 'x',
    })).toEqual({
      conditions: ['name=zone 1', 'state?=Enabled,Disabled'], limit: 10, start: 0, replyWithCount: true, count: false,
      sort: '-createDate', fields: ['uuid', 'name'],
    });
    expect(queryOptionsFromRest({ q: 'uuid not null' })).toEqual({ conditions: ['uuid not null'] });
    expect(queryOptionsFromRest({})).toEqual({});
  });

  it("rejects non-integer limit and start with ZStack's message", () => {
    expect(() => queryOptionsFromRest({ limit: '10x' })).toThrow("Invalid query parameter. 'limit' must be an integer");
    expect(() => queryOptionsFromRest({ start: '1.5' })).toThrow("Invalid query parameter. 'start' must be an integer");
  });

  it('builds the wire body with a schema entry per inventory, and an empty schema for counts', () => {
    expect(queryReplyBody(ZoneInv, { inventories: [{ uuid: 'a' }], total: 1 })).toEqual({
      inventories: [{ uuid: 'a' }], total: 1, schema: { 'inventories[0]': 'org.zstack.header.zone.ZoneInventory' },
    });
    expect(queryReplyBody(ZoneInv, { total: 7 })).toEqual({ total: 7, schema: {} });
  });
});
