export * from './types.ts';
export * from './cascade-registry.ts';
export { sortGraph } from './graph.ts';
