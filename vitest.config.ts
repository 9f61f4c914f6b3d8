import { defineConfig } from 'vitest/config';

// Runs every workspace's tests from the repository root (`npx vitest`); `pnpm test` runs them per package
// through turbo instead, with caching.
export default defineConfig({
  test: { projects: ['packages/*', 'apps/*', 'tests'] },
});
