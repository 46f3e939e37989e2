import { describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import { builtinModules } from '../src/node/modules.ts';

describe('the API catalog the CLI and OpenAPI read', () => {
  it('lists exactly the APIs the node serves, so a service added to the node is never missing from the CLI', () => {
    const served = builtinModules.flatMap((m) => (m.apis ?? []).map((a) => a.name)).sort();
    const listed = apiCatalog.map((a) => a.name).sort();
    expect(listed).toEqual(served);
    expect(new Set(listed).size).toBe(listed.length);
  });
});
