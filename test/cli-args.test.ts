import { describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import type { ApiDef } from '../src/core/api/define-api.ts';
import { parseCliArgs } from '../src/cli/args.ts';

/** `strato cli <Api> key=value …`: words become parameters typed by the API's own schema. */
const api = (name: string): ApiDef => {
  const found = apiCatalog.find((a) => a.name === name);
  if (!found) throw new Error(`no API ${name} in the catalog`);
  return found;
};

describe('parseCliArgs', () => {
  describe('on ordinary APIs', () => {
    it('keeps strings as strings, even when they look like numbers or booleans', () => {
      expect(parseCliArgs(api('CreateZone'), ['name=123', 'description=true'])).toEqual({ name: '123', description: 'true' });
    });

    it('converts booleans declared as booleans', () => {
      expect(parseCliArgs(api('CreateZone'), ['name=z1', 'isDefault=true'])).toEqual({ name: 'z1', isDefault: true });
      expect(parseCliArgs(api('CreateZone'), ['name=z1', 'isDefault=false'])).toEqual({ name: 'z1', isDefault: false });
    });

    it('leaves a boolean it cannot read as text, for validation to report', () => {
      expect(parseCliArgs(api('CreateZone'), ['isDefault=yes'])).toEqual({ isDefault: 'yes' });
    });

    it('converts integers declared as integers', () => {
      expect(parseCliArgs(api('RenewSession'), ['sessionUuid=0123456789abcdef0123456789abcdef', 'duration=600'])).toEqual({ sessionUuid: '0123456789abcdef0123456789abcdef', duration: 600 });
    });

    it('splits comma-separated lists for array parameters and reads an empty value as an empty list', () => {
      expect(parseCliArgs(api('CreateZone'), ['systemTags=a::1,b::2'])).toEqual({ systemTags: ['a::1', 'b::2'] });
      expect(parseCliArgs(api('CreateZone'), ['userTags='])).toEqual({ userTags: [] });
    });

    it('reads JSON for arrays whose items contain commas, and for objects', () => {
      expect(parseCliArgs(api('CreateZone'), ['systemTags=["a,b","c"]'])).toEqual({ systemTags: ['a,b', 'c'] });
      expect(parseCliArgs(api('LogInByAccount'), ['clientInfo={"browser":"cli"}'])).toEqual({ clientInfo: { browser: 'cli' } });
    });

    it('refuses JSON that does not parse for an object parameter', () => {
      expect(() => parseCliArgs(api('LogInByAccount'), ['clientInfo={"browser"'])).toThrow(/clientInfo/);
    });

    it('keeps a string parameter that merely starts with a bracket as text', () => {
      expect(parseCliArgs(api('CreateZone'), ['name=z1', 'description=[draft] rack 4'])).toEqual({ name: 'z1', description: '[draft] rack 4' });
      expect(parseCliArgs(api('CreateZone'), ['description={not json'])).toEqual({ description: '{not json' });
    });

    it('splits a word at its first = only, so values may contain =', () => {
      expect(parseCliArgs(api('CreateZone'), ['description=a=b=c'])).toEqual({ description: 'a=b=c' });
    });

    it('refuses a word without key=value', () => {
      expect(() => parseCliArgs(api('CreateZone'), ['z1'])).toThrow(/key=value/);
      expect(() => parseCliArgs(api('CreateZone'), ['=z1'])).toThrow(/key=value/);
    });
  });

  describe('on query APIs', () => {
    it('turns field<op>value words into q= conditions, in order, with every ZStack operator', () => {
      const words = ['name=z1', 'name~=z%', 'uuid?=a,b', 'state!=Disabled', 'name!~=x%', 'uuid!?=c,d', 'createDate>=2024-10-17 10:00:00', 'createDate<2030-01-01', 'description is null', 'uuid not null'];
      expect(parseCliArgs(api('QueryZone'), words)).toEqual({ q: words });
    });

    it('reads query options as typed options rather than conditions', () => {
      expect(parseCliArgs(api('QueryZone'), ['name~=z%', 'limit=10', 'start=0', 'replyWithCount=true', 'count=false', 'sort=-createDate', 'fields=uuid,name'])).toEqual({
        q: ['name~=z%'],
        limit: 10,
        start: 0,
        replyWithCount: true,
        count: false,
        sort: '-createDate',
        fields: ['uuid', 'name'],
      });
    });

    it('keeps a condition on a field whose value is an option name as a condition', () => {
      expect(parseCliArgs(api('QueryZone'), ['name=limit'])).toEqual({ q: ['name=limit'] });
    });

    it('refuses a word with no operator', () => {
      expect(() => parseCliArgs(api('QueryZone'), ['z1'])).toThrow(/field<op>value/);
    });

    it('sends no q at all when there are only options', () => {
      expect(parseCliArgs(api('QueryZone'), ['count=true'])).toEqual({ count: true });
    });
  });
});
