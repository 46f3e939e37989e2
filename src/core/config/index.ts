export * from './global-config.ts';
