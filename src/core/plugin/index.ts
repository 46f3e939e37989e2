export * from './extension-point.ts';
export * from './extension-registry.ts';
export * from './plugin.ts';
