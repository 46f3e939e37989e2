import { StratoError, SysErrors } from '../errors/index.ts';

/**
 * Topological order of the cascade graph (parents before children, registration order among equals),
 * rejecting parents nobody registered and cycles (a resource below itself).
 */
export function sortGraph(nodes: readonly { name: string; parents: readonly string[] }[]): { order: string[]; childrenOf: Map<string, string[]> } {
  const names = new Set(nodes.map((n) => n.name));
  const childrenOf = new Map<string, string[]>(nodes.map((n) => [n.name, []]));
  const pending = new Map<string, number>();
  for (const n of nodes) {
    const parents = new Set(n.parents);
    for (const p of parents) {
      if (!names.has(p)) throw new StratoError(SysErrors.INTERNAL, `cascade entry ${n.name} names an unknown parent ${p}`);
      childrenOf.get(p)!.push(n.name);
    }
    pending.set(n.name, parents.size);
  }
  const order: string[] = [];
  const ready = nodes.filter((n) => pending.get(n.name) === 0).map((n) => n.name);
  while (ready.length) {
    const name = ready.shift()!;
    order.push(name);
    for (const c of childrenOf.get(name)!) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.map((n) => n.name).filter((n) => !order.includes(n));
    throw new StratoError(SysErrors.INTERNAL, `the cascade graph has a cycle through ${stuck.join(', ')}`);
  }
  return { order, childrenOf };
}
