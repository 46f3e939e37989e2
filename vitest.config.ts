import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // A hang guard, not a speed check (speed is measured in bench/): CI machines and a loaded
    // 2-core machine run the concurrency and MariaDB tests several times slower than a quiet one.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // Two cores: database tests share MariaDB, keep files parallel but bounded.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
