import { describe, expect, it } from 'vitest';
import { journalCtx } from './engine.ts';

describe('what the flow journal keeps of a chain context', () => {
  it('drops credentials at any depth and keeps everything else', () => {
    const ctx = { uuid: 'h1', password: 'pw', hypervisorParams: { username: 'root', sshPrivateKey: 'KEY', sshPort: 22 }, items: [{ accessKeySecret: 's', name: 'a' }] };
    const kept = JSON.parse(journalCtx(ctx));
    expect(kept).toEqual({ uuid: 'h1', hypervisorParams: { username: 'root', sshPort: 22 }, items: [{ name: 'a' }] });
    expect(journalCtx(ctx)).not.toMatch(/pw|KEY|"s"/);
    expect(ctx.password).toBe('pw'); // the running chain still has it
  });
});
