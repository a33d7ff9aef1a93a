import { defineConfig } from 'drizzle-kit';

// The PostgreSQL store's migrations: their own folder, since one folder holds one dialect's journal. SQLite's
// stay in ./drizzle (existing databases record them by that journal). See drizzle/README.md.
export default defineConfig({
  dialect: 'postgresql',
  // The index, which exports every table: a glob of the folder would also load mirror.test.ts (vitest).
  schema: './server/store/schema-pg/index.ts',
  out: './drizzle/pg',
  casing: 'snake_case',
});
