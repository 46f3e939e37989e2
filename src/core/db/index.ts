export * from './database.ts';
export * from './migrations.ts';
export * from './columns.ts';
export * from './test-databases.ts';
export * from './direct-read.ts';
export * from './unique-violation.ts';
export * from './read-cache.ts';
export { setReadCacheReusePolicy, setTotalsReusePolicy } from './mysql-write-tracking.ts';
