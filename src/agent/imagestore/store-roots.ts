import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../files.ts';

/** The image-store directories this agent serves, kept on disk so a restarted agent still serves them. */
export class StoreRoots extends Set<string> {
  readonly #file: string;

  constructor(dataDir: string) {
    super();
    this.#file = join(dataDir, 'imagestore-roots.json');
    if (existsSync(this.#file)) for (const r of JSON.parse(readFileSync(this.#file, 'utf8')) as string[]) super.add(r);
  }

  override add(root: string): this {
    if (this.has(root)) return this;
    super.add(root);
    writeFileAtomic(this.#file, JSON.stringify([...this]));
    return this;
  }
}
