export * from './system-tag-pattern.ts';
export * from './tag-registry.ts';
export * from './tag-store.ts';
export * from './create-tags-step.ts';
