import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

export interface ZoneInventoryView {
  uuid: string;
  name: string;
  description?: string | null;
  state: string;
  type: string;
  isDefault: boolean;
}

/** Observers of a zone's life (ZStack's ZoneChangeStateExtensionPoint and friends). `pre*` hooks veto by throwing. */
export interface ZoneLifecycle {
  afterCreate?(zone: ZoneInventoryView): void | Promise<void>;
  preChangeState?(zone: ZoneInventoryView, stateEvent: 'enable' | 'disable'): void | Promise<void>;
  afterChangeState?(zone: ZoneInventoryView, previous: string): void | Promise<void>;
  preDelete?(zone: ZoneInventoryView): void | Promise<void>;
  afterDelete?(zone: ZoneInventoryView): void | Promise<void>;
}

export const ZoneLifecyclePoint = observerPoint<ZoneLifecycle>('zone.lifecycle');

/** The context of the `zone.create` chain. */
export interface CreateZoneCtx {
  uuid: string;
  name: string;
  description?: string;
  isDefault: boolean;
  systemTags?: string[];
  userTags?: string[];
  /** Set once the row exists: what the rollback removes. */
  persisted?: boolean;
}

/** Plugins add steps after the zone row and its tags exist, inside the same rollback scope. */
export const AfterZonePersisted = insertionPoint<CreateZoneCtx>('zone.create.afterPersisted');

export const ZoneEvents = {
  created: 'zone.created',
  deleted: 'zone.deleted',
} as const;
