/**
 * VMs this node put on a host that its records may not show yet: a VM is recorded on its host only
 * after `/vm/start` (or `/vm/migrate`) answered, so while one starts, another leaving the same network
 * must not take the network's bridge or DHCP namespace away from under it. Keyed `<host>/<network>`.
 */
export class Presence {
  readonly #vms = new Map<string, Set<string>>();

  arrive(key: string, vmUuid: string): void {
    const s = this.#vms.get(key) ?? new Set<string>();
    s.add(vmUuid);
    this.#vms.set(key, s);
  }

  leave(key: string, vmUuid: string): void {
    const s = this.#vms.get(key);
    s?.delete(vmUuid);
    if (s?.size === 0) this.#vms.delete(key);
  }

  /** The networks of keys `<hostUuid>/<network>` some VM was put on and has not left. */
  networksOn(hostUuid: string): string[] {
    return [...this.#vms.keys()].filter((k) => k.startsWith(`${hostUuid}/`)).map((k) => k.slice(hostUuid.length + 1));
  }

  /** The VMs put at `key` that have not left. */
  vmsAt(key: string): string[] {
    return [...(this.#vms.get(key) ?? [])];
  }

  /** Another VM than `vmUuid` was put there by this node and has not left. */
  othersThere(key: string, vmUuid: string): boolean {
    return [...(this.#vms.get(key) ?? [])].some((v) => v !== vmUuid);
  }
}
