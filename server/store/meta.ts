import type { Db } from './db.js';

// The `meta` table: small values that must outlive the process (the dropped-exchange total, the derivation
// cursor, the tokens the app accepted). One place spells its SQL; callers keep the returned statements.

export interface Meta {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  /** the value as a finite number; 0 when absent or not a number */
  number(key: string): number;
}

export function metaTable(db: Db): Meta {
  const read = db.$client.prepare('select value from meta where key = ?').pluck();
  const write = db.$client.prepare(
    'insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value',
  );
  const get = (key: string) => {
    const v = read.get(key);
    return v === undefined || v === null ? undefined : String(v);
  };
  return {
    get,
    set: (key, value) => void write.run(key, value),
    number(key) {
      const n = Number(get(key) ?? 0);
      return Number.isFinite(n) ? n : 0;
    },
  };
}
