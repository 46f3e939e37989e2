/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes, seed 0. Stable across processes, machines and
 * Node versions, so every management node computes the same ring. Unlike FNV-1a it mixes short,
 * similar keys (`<node>#1`, `<node>#2`) well, which is what the virtual nodes need to spread evenly.
 */
export function murmur3(key: string, seed = 0): number {
  const bytes = utf8(key);
  const len = bytes.length;
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2] << 16;
    if (tail >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const scratch = new Uint8Array(256);
const encoder = new TextEncoder();

/** UTF-8 bytes of `s`; ASCII keys (UUIDs) are copied into a reused buffer without allocating. */
function utf8(s: string): Uint8Array {
  if (s.length <= scratch.length) {
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      scratch[i] = c;
    }
    if (ascii) return scratch.subarray(0, s.length);
  }
  return encoder.encode(s);
}

/**
 * A consistent-hash ring of management nodes (ZStack's ResourceDestinationMaker): each node is placed
 * at `virtualNodes` points `hash("<node>#<i>")`; a key belongs to the node at the first point at or
 * after `hash(key)`, wrapping around. Removing a node moves only that node's keys; adding one moves
 * keys only to it. The result depends on the set of nodes, never on the order they were added in.
 *
 * @example
 *   const ring = new HashRing(['mn1', 'mn2']);
 *   ring.owner(vmUuid); // 'mn1' or 'mn2', the same on every node
 */
export class HashRing {
  private readonly members = new Set<string>();
  private points = new Uint32Array(0);
  /** Parallel to `points`: the node owning each point. */
  private owners: string[] = [];

  constructor(
    nodes: Iterable<string> = [],
    /** ZStack uses 500; with murmur3, 500 points keep 4 nodes within a few percent of an even share. */
    readonly virtualNodes = 500,
  ) {
    for (const n of nodes) this.members.add(n);
    this.rebuild();
  }

  add(node: string): void {
    if (this.members.has(node)) return;
    this.members.add(node);
    this.rebuild();
  }

  remove(node: string): void {
    if (this.members.delete(node)) this.rebuild();
  }

  /** Replace the membership at once (one rebuild). */
  setNodes(nodes: Iterable<string>): void {
    this.members.clear();
    for (const n of nodes) this.members.add(n);
    this.rebuild();
  }

  has(node: string): boolean {
    return this.members.has(node);
  }

  nodes(): string[] {
    return [...this.members].sort();
  }

  get size(): number {
    return this.members.size;
  }

  /** The node owning `key`, or undefined when the ring is empty. */
  owner(key: string): string | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const h = murmur3(key);
    // First point >= h.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }

  private rebuild(): void {
    const entries: Array<{ h: number; node: string }> = [];
    for (const node of this.members) {
      for (let i = 0; i < this.virtualNodes; i++) entries.push({ h: murmur3(`${node}#${i}`), node });
    }
    // Ties (two nodes on one point) break by node id, so insertion order never matters.
    entries.sort((a, b) => a.h - b.h || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.points = Uint32Array.from(entries, (e) => e.h);
    this.owners = entries.map((e) => e.node);
  }
}
