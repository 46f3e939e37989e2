import { StratoError, SysErrors } from '../errors/index.ts';
import type { ApiDef } from './define-api.ts';

/** Every API the node serves, by ZStack name; the REST layer, OpenAPI and the CLI read it. */
export class ApiRegistry {
  readonly #byName = new Map<string, ApiDef>();

  register(...apis: ApiDef<any>[]): void {
    for (const api of apis) {
      if (this.#byName.has(api.name)) throw new Error(`API ${api.name} registered twice`);
      this.#byName.set(api.name, api as ApiDef);
    }
  }

  get(name: string): ApiDef {
    const api = this.#byName.get(name);
    if (!api) throw new StratoError(SysErrors.UNKNOWN_MESSAGE_ERROR, `no API named ${name}`);
    return api;
  }

  find(name: string): ApiDef | undefined {
    return this.#byName.get(name);
  }

  all(): ApiDef[] {
    return [...this.#byName.values()];
  }
}
