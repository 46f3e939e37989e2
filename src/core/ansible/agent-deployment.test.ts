import { describe, expect, it } from 'vitest';
import { agentDataDirOf, deploymentHashOf, type AgentDeployment } from './agent-deployment.ts';

const base: AgentDeployment = { role: 'kvm', ownerUuid: 'a'.repeat(32), login: { address: '10.0.0.5', port: 22, username: 'root', password: 'p' }, dataDir: '/var/lib/strato-agent/aaaaaaaaaaaa', port: 7070, token: 't1' };

describe('what a reconnect compares', () => {
  it('is the same hash for the same deployment, whatever the login', () => {
    expect(deploymentHashOf(base)).toBe(deploymentHashOf({ ...base, login: { ...base.login, password: 'other', port: 2222 } }));
  });

  it('changes with the token, the port, the directory or the role (each needs the agent restarted)', () => {
    const h = deploymentHashOf(base);
    for (const d of [{ ...base, token: 't2' }, { ...base, port: 7071 }, { ...base, dataDir: '/srv/agent' }, { ...base, role: 'backup-storage' as const }]) expect(deploymentHashOf(d)).not.toBe(h);
  });

  it('does not carry the token in clear', () => {
    expect(deploymentHashOf({ ...base, token: 'secret-token' })).not.toContain('secret-token');
  });
});

describe('agent directories', () => {
  it('are short enough for QEMU sockets below them (unix paths < 108 bytes)', () => {
    const dir = agentDataDirOf('/var/lib/strato-agent/', 'f'.repeat(32));
    expect(dir).toBe('/var/lib/strato-agent/ffffffffffff');
    expect(`${dir}/vms/${'e'.repeat(32)}/qmp.sock`.length).toBeLessThan(108);
    expect(agentDataDirOf('/r', 'b'.repeat(32), 'bs-')).toBe('/r/bs-bbbbbbbbbbbb');
  });
});
