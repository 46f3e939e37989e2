import { VM_SERVICE } from '../../contracts/vm.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/**
 * ZStack's destroyed-VM expunge task: every `vm.expungeInterval` seconds, each node expunges the
 * Destroyed VMs it owns on the ring that were destroyed more than `vm.expungePeriod` seconds ago
 * (their `lastOpDate` is when they became Destroyed). Each expunge is an ExpungeVmInstance message,
 * so it runs in the VM's queue and a VM recovered meanwhile is left alone (VM.1010).
 */
export class VmExpungeTimer {
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #round: Promise<void> = Promise.resolve();
  #offChange: (() => void) | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly period: ConfigHandle<number>,
    private readonly interval: ConfigHandle<number>,
  ) {}

  start(): void {
    this.#stopped = false;
    // A shorter interval applies at once rather than after the old one has run out.
    this.#offChange = this.interval.onChange(() => this.#schedule());
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#offChange?.();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.#round
        .then(() => this.expungeDue())
        .then(() => undefined, (err: unknown) => this.ctx.log.warn({ err }, 'vm expunge round failed'))
        .finally(() => { if (!this.#timer) this.#schedule(); });
    }, this.interval.get() * 1000);
    this.#timer.unref();
  }

  /** One round (also called by tests): returns the uuids it expunged. */
  async expungeDue(now = Date.now()): Promise<string[]> {
    const { db, bus, log } = this.ctx;
    const rows = await db.selectFrom('vm_instance').select('uuid')
      .where('state', '=', 'Destroyed').where('lastOpDate', '<=', now - this.period.get() * 1000).execute();
    const done: string[] = [];
    for (const r of rows) {
      const uuid = r.uuid as string;
      if (!bus.isOwnedHere(uuid)) continue;
      const reply = await bus.send(VM_SERVICE, 'ExpungeVmInstance', { uuid }, { resourceUuid: uuid });
      if (reply.success) done.push(uuid);
      else log.warn({ vm: uuid, error: reply.error }, 'vm expunge: a destroyed VM could not be expunged; will retry next round');
    }
    if (done.length) log.info({ count: done.length }, 'vm expunge: destroyed VMs expunged');
    return done;
  }
}
