import { describe, it, expect } from 'vitest';
import { HashRing, murmur3 } from './ring.ts';
import { newUuid } from '../util/uuid.ts';

const NODES = ['9a1c0d4e5b6f40718293a4b5c6d7e8f0', '1b2c3d4e5f60718293a4b5c6d7e8f901', 'c0ffee00112233445566778899aabbcc', '0123456789abcdef0123456789abcdef'];
const keys = Array.from({ length: 100_000 }, () => newUuid());

function ownership(ring: HashRing): Map<string, string | undefined> {
  return new Map(keys.map((k) => [k, ring.owner(k)]));
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3 x86_32 vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('Hello, world!')).toBe(0xc0363e43);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('hashes non-ASCII and long strings by their UTF-8 bytes (vectors from an independent implementation)', () => {
    expect(murmur3('zone-é')).toBe(0x9cdc1de1);
    expect(murmur3('zone-😀')).toBe(0x8dd51c0f);
    expect(murmur3('a'.repeat(300))).toBe(0x430c10f3);
  });
});

describe('HashRing', () => {
  it('gives each of 4 nodes a fair share of 100k keys', () => {
    const ring = new HashRing(NODES);
    const counts = new Map<string, number>();
    for (const k of keys) {
      const o = ring.owner(k)!;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...NODES].sort());
    for (const c of counts.values()) {
      // 25% ± 5 points
      expect(c / keys.length).toBeGreaterThan(0.2);
      expect(c / keys.length).toBeLessThan(0.3);
    }
  });

  it('moves only the removed node\'s keys when a node leaves', () => {
    const ring = new HashRing(NODES);
    const before = ownership(ring);
    ring.remove(NODES[2]);
    let moved = 0;
    let wronglyMoved = 0;
    for (const [k, o] of before) {
      const now = ring.owner(k);
      if (o === NODES[2]) {
        if (now !== NODES[2]) moved++;
      } else if (now !== o) {
        wronglyMoved++;
      }
    }
    expect(wronglyMoved).toBe(0);
    expect(moved).toBe([...before.values()].filter((o) => o === NODES[2]).length);
  });

  it('moves keys only to the new node when a node joins', () => {
    const ring = new HashRing(NODES.slice(0, 3));
    const before = ownership(ring);
    ring.add(NODES[3]);
    let taken = 0;
    let elsewhere = 0;
    for (const [k, o] of before) {
      const now = ring.owner(k);
      if (now !== o) {
        if (now === NODES[3]) taken++;
        else elsewhere++;
      }
    }
    expect(elsewhere).toBe(0);
    // Roughly a quarter of the keys move to the newcomer.
    expect(taken / keys.length).toBeGreaterThan(0.15);
    expect(taken / keys.length).toBeLessThan(0.35);
  });

  it('gives the same owners on every instance, whatever the order nodes were added in', () => {
    const a = new HashRing(NODES);
    const b = new HashRing();
    for (const n of [...NODES].reverse()) b.add(n);
    const c = new HashRing(['x']);
    c.setNodes(NODES);
    const differ = keys.filter((k) => a.owner(k) !== b.owner(k) || a.owner(k) !== c.owner(k));
    expect(differ).toEqual([]);
    // A pinned vector: the ring must not change between releases, or a rolling upgrade would split ownership.
    expect(a.owner('00000000000000000000000000000000')).toBe('c0ffee00112233445566778899aabbcc');
    expect(a.owner('ffffffffffffffffffffffffffffffff')).toBe('0123456789abcdef0123456789abcdef');
  });

  it('has no owner when empty and one owner when alone', () => {
    const ring = new HashRing();
    expect(ring.owner('abc')).toBeUndefined();
    ring.add('only');
    expect(ring.owner('abc')).toBe('only');
    expect(ring.nodes()).toEqual(['only']);
    ring.add('only');
    expect(ring.size).toBe(1);
    ring.remove('only');
    expect(ring.owner('abc')).toBeUndefined();
  });
});
