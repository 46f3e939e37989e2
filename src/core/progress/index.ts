export * from './task-progress.ts';
