import { describe, expect, it } from 'vitest';
import { invalidSshLogin } from './ssh-login.ts';

describe('invalidSshLogin', () => {
  it('accepts plain usernames and IP or DNS addresses', () => {
    expect(invalidSshLogin('192.168.0.10', 'root')).toBeUndefined();
    expect(invalidSshLogin('fe80::1', 'ops_user.1')).toBeUndefined();
    expect(invalidSshLogin('host-1.example.com', '_svc-x')).toBeUndefined();
  });
  it('refuses usernames ssh or an INI inventory would read as something else', () => {
    for (const u of ['-oProxyCommand=x', 'root ansible_ssh_common_args=x', 'a\nb', '', 'root@x', '1root']) expect(invalidSshLogin('10.0.0.1', u)).toMatch(/username/);
  });
  it('refuses addresses that are neither an IP nor a DNS name', () => {
    for (const a of ['-oProxyCommand=x', '10.0.0.1 ansible_connection=local', 'a\nb', '', 'x;y', '.x']) expect(invalidSshLogin(a, 'root')).toMatch(/address/);
  });
});
