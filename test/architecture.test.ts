import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules of docs/architecture.md, checked on the source: services never import another
 * service (they use the bus, events and contracts), plugins never import a service, core imports
 * neither. A new import that breaks a rule fails here, whatever its relative depth.
 */
const SRC = resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `services/zone`, `plugins/simulator`, `core/bus`, `contracts`, `api`, … of a file under src/. */
function area(file: string): { layer: string; unit: string } {
  const parts = relative(SRC, file).split(sep);
  return { layer: parts[0], unit: parts.length > 2 ? parts[1] : '' };
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)].map((m) => resolve(dirname(file), m[1] ?? m[2]));
}

const violations = (rule: (from: ReturnType<typeof area>, to: ReturnType<typeof area>) => boolean) =>
  files(SRC).flatMap((f) => imports(f).filter((target) => target.startsWith(SRC) && rule(area(f), area(target))).map((t) => `${relative(SRC, f)} → ${relative(SRC, t)}`));

describe('the dependency rules', () => {
  it('no service imports another service', () => {
    expect(violations((a, b) => a.layer === 'services' && b.layer === 'services' && a.unit !== b.unit)).toEqual([]);
  });

  it('no plugin imports a service', () => {
    expect(violations((a, b) => a.layer === 'plugins' && b.layer === 'services')).toEqual([]);
  });

  it('core imports no service, plugin, contract or app layer', () => {
    expect(violations((a, b) => a.layer === 'core' && ['services', 'plugins', 'contracts', 'api', 'node', 'cli'].includes(b.layer))).toEqual([]);
  });

  it('the agent imports only core and contracts, and only the CLI starts it', () => {
    expect(violations((a, b) => a.layer === 'agent' && !['agent', 'core', 'contracts'].includes(b.layer))).toEqual([]);
    expect(violations((a, b) => b.layer === 'agent' && !['agent', 'cli'].includes(a.layer))).toEqual([]);
  });

  it('the rule checker sees real imports (it would catch a violation)', () => {
    const zoneImports = imports(join(SRC, 'services/zone/index.ts')).map((t) => relative(SRC, t));
    expect(zoneImports).toContain(join('services', 'zone', 'apis.ts'));
    expect(zoneImports.some((t) => t.startsWith('core'))).toBe(true);
  });
});
