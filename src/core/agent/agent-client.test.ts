import { describe, expect, it } from 'vitest';
import { AgentClient } from './agent-client.ts';
import { TASK_UUID_HEADER } from './agent-protocol.ts';

describe('progress of a running agent command', () => {
  it('reaches the command that asked for it while it runs, and nobody once it is answered', async () => {
    const agents = new AgentClient();
    let finish: (() => void) | undefined;
    let taskUuid = '';
    agents.inProcess.register('a1', async (req, deliver) => {
      taskUuid = req.headers[TASK_UUID_HEADER];
      finish = () => deliver({ [TASK_UUID_HEADER]: taskUuid }, { success: true, done: 1 });
      return { status: 200, body: {} };
    });
    const seen: unknown[] = [];
    const result = agents.call({ url: 'inproc://a1', token: 't' }, '/imagestore/download', {}, { onProgress: (r) => seen.push(r.percent) });
    await new Promise((r) => setTimeout(r, 10));
    expect(agents.deliverProgress({ taskUuid, percent: 40 })).toBe(true);
    expect(agents.deliverProgress({ taskUuid: 'f'.repeat(32), percent: 90 })).toBe(false); // no such command
    expect(agents.deliverProgress({ percent: 90 })).toBe(false); // no task named
    finish!();
    expect(await result).toMatchObject({ success: true, done: 1 });
    expect(agents.deliverProgress({ taskUuid, percent: 100 })).toBe(false); // answered already
    expect(seen).toEqual([40]);
  });

  it('is refused for a command that did not ask for progress', async () => {
    const agents = new AgentClient();
    let taskUuid = '';
    let finish: (() => void) | undefined;
    agents.inProcess.register('a2', async (req, deliver) => {
      taskUuid = req.headers[TASK_UUID_HEADER];
      finish = () => deliver({ [TASK_UUID_HEADER]: taskUuid }, { success: true });
      return { status: 200, body: {} };
    });
    const result = agents.call({ url: 'inproc://a2', token: 't' }, '/x', {});
    await new Promise((r) => setTimeout(r, 10));
    expect(agents.deliverProgress({ taskUuid, percent: 10 })).toBe(false);
    finish!();
    await result;
  });
});
