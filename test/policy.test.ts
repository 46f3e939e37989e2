import { describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import { maskSecrets } from '../src/services/audit/mask.ts';
import { ActionNames, evaluate, type PolicyStatement } from '../src/services/identity/policy.ts';
import { formatSignedDate, parseSignedDate, signRequest } from '../src/services/identity/signature.ts';

const CREATE_VM = 'org.zstack.header.vm.APICreateVmInstanceMsg';

describe('policy statements', () => {
  it('a Deny statement blocks what an Allow statement permits, whatever their order', () => {
    const allow: PolicyStatement = { effect: 'Allow', actions: ['org.zstack.header.vm.*'] };
    const deny: PolicyStatement = { effect: 'Deny', actions: [CREATE_VM] };
    expect(evaluate([allow], CREATE_VM)).toBe('Allow');
    expect(evaluate([allow, deny], CREATE_VM)).toBe('Deny');
    expect(evaluate([deny, allow], CREATE_VM)).toBe('Deny');
    expect(evaluate([allow, deny], 'org.zstack.header.vm.APIStartVmInstanceMsg')).toBe('Allow');
  });

  it('matches action patterns with * only where written, and no statement means no match', () => {
    expect(evaluate([{ effect: 'Allow', actions: ['org.zstack.header.vm.*'] }], 'org.zstack.header.vmx.APIFooMsg')).toBe('NoMatch');
    expect(evaluate([{ effect: 'Allow', actions: ['org.zstack.header.vm.APICreate*Msg'] }], CREATE_VM)).toBe('Allow');
    expect(evaluate([{ effect: 'Allow', actions: ['org.zstack.header.vm.APICreateVmInstanceMs'] }], CREATE_VM)).toBe('NoMatch');
    expect(evaluate([{ effect: 'Allow', actions: ['org.zstack.header.vm.APICreateVmInstanceMsg.'] }], CREATE_VM)).toBe('NoMatch');
    expect(evaluate([], CREATE_VM)).toBe('NoMatch');
    expect(evaluate([{ effect: 'Allow', actions: ['*'] }], CREATE_VM)).toBe('Allow');
  });

  it('limits a statement to the resources it names', () => {
    const s: PolicyStatement = { effect: 'Deny', actions: ['*'], resources: ['VmInstanceVO:aaaa'] };
    expect(evaluate([s], CREATE_VM, 'aaaa')).toBe('Deny');
    expect(evaluate([s], CREATE_VM, 'bbbb')).toBe('NoMatch');
    expect(evaluate([s], CREATE_VM)).toBe('NoMatch');
    expect(evaluate([{ ...s, resources: ['VmInstanceVO:*'] }], CREATE_VM, 'bbbb')).toBe('Deny');
  });
});

describe('ZStack action names of Strato APIs', () => {
  const classes: Record<string, string> = {
    VmInstanceInventory: 'org.zstack.header.vm.VmInstanceInventory',
    ZoneInventory: 'org.zstack.header.zone.ZoneInventory',
    UserInventory: 'org.zstack.header.identity.UserInventory',
    AccountInventory: 'org.zstack.header.identity.AccountInventory',
    SessionInventory: 'org.zstack.header.identity.SessionInventory',
  };
  const names = new ActionNames(apiCatalog, (inv) => classes[inv]);

  it("names an API by the package of the inventory it returns or reads, else its service's usual package", () => {
    expect(names.of('CreateVmInstance')).toBe(CREATE_VM);
    expect(names.of('QueryVmInstance')).toBe('org.zstack.header.vm.APIQueryVmInstanceMsg');
    expect(names.of('DestroyVmInstance')).toBe('org.zstack.header.vm.APIDestroyVmInstanceMsg');
    expect(names.of('CreateZone')).toBe('org.zstack.header.zone.APICreateZoneMsg');
    expect(names.of('DeleteUser')).toBe('org.zstack.header.identity.APIDeleteUserMsg');
  });
});

describe('access-key signatures', () => {
  it("reads the Date header as ZStack's SDK writes it, zone ids included", () => {
    expect(parseSignedDate('Fri, 27 Nov 2026 02:57:26 Etc/UTC')).toBe(Date.UTC(2026, 10, 27, 2, 57, 26));
    expect(parseSignedDate('Fri, 27 Nov 2026 10:57:26 Asia/Shanghai')).toBe(Date.UTC(2026, 10, 27, 2, 57, 26));
    expect(parseSignedDate('Fri, 27 Nov 2026 02:57:26 GMT')).toBe(Date.UTC(2026, 10, 27, 2, 57, 26));
    expect(parseSignedDate('Fri, 27 Nov 2026 03:57:26 +0100')).toBe(Date.UTC(2026, 10, 27, 2, 57, 26));
    expect(parseSignedDate('Fri, 27 Nov 2026 02:57:26 Nowhere/Atlantis')).toBeUndefined();
    expect(parseSignedDate('yesterday')).toBeUndefined();
    const now = Date.UTC(2026, 10, 27, 2, 57, 26);
    expect(parseSignedDate(formatSignedDate(now))).toBe(now);
  });

  it('signs METHOD, Date and /v1 path with HMAC-SHA1, base64: any change gives another signature', () => {
    const date = 'Fri, 27 Nov 2026 02:57:26 Etc/UTC';
    const sig = signRequest('secret', 'GET', date, '/v1/zones');
    expect(sig).toMatch(/^[A-Za-z0-9+/]{27}=$/);
    expect(signRequest('secret', 'POST', date, '/v1/zones')).not.toBe(sig);
    expect(signRequest('secret', 'GET', date, '/v1/zone')).not.toBe(sig);
    expect(signRequest('secreT', 'GET', date, '/v1/zones')).not.toBe(sig);
  });
});

describe('audit masking', () => {
  it('masks every value under a password, secret, token or key name at any depth, and nothing else', () => {
    const masked = maskSecrets({ name: 'n', password: 'p', nested: { AccessKeySecret: 's', list: [{ sessionToken: 't', ok: 1 }] }, oldPassword: 'o', sshKey: 'k', sessionUuid: 'u', vmUuid: 'v' });
    expect(masked).toEqual({ name: 'n', password: '*****', nested: { AccessKeySecret: '*****', list: [{ sessionToken: '*****', ok: 1 }] }, oldPassword: '*****', sshKey: '*****', sessionUuid: '*****', vmUuid: 'v' });
  });
});
