import type { Db } from './db.js';
import type { IngestStage, StoredOperation } from './ingest.js';

type TermSource = Pick<StoredOperation, 'identity' | 'targetId' | 'reason'>;

/** Where the terms go: SQLite's table, or PostgreSQL's derivation, which writes them with the batch (pg/derive/). */
export interface TermSink {
  /** insert-or-ignore one (field, value) */
  addTerm(field: string, value: string): void;
}

function sqliteTermSink(db: Db): TermSink['addTerm'] {
  const insert = db.$client.prepare('insert or ignore into operation_terms (field, value) values (?, ?)');
  return (field, value) => void insert.run(field, value);
}

/**
 * Keeps operation_terms (the distinct identities, target ids and reasons `q` searches) as operations are
 * recorded, inside the batch's transaction. An ingest stage rather than a trigger: any trigger on `operations`,
 * even an empty one, made each insert about 20 µs dearer with its indexes. INSERT OR IGNORE is one primary-key
 * probe for a value already known, which is nearly every one.
 */
export function createTermsStage(target: Db | TermSink): IngestStage {
  const addTerm = 'addTerm' in target ? target.addTerm : sqliteTermSink(target);
  return {
    afterInsert(ops: TermSource[]) {
      // A batch repeats the same few names (a lookup, then the create or update of that user).
      const seen = new Set<string>();
      const add = (field: string, value: string | null) => {
        if (value === null) return;
        const key = `${field}\u0000${value}`;
        if (seen.has(key)) return;
        seen.add(key);
        addTerm(field, value);
      };
      for (const op of ops) {
        add('identity', op.identity);
        add('targetId', op.targetId);
        add('reason', op.reason);
      }
    },
  };
}

/** Fill operation_terms from operations written some other way (bulk loads, benchmarks). */
export function backfillTerms(db: Db): void {
  db.$client.exec(`insert or ignore into operation_terms (field, value)
    select 'identity', identity from operations where identity is not null
    union all select 'targetId', target_id from operations where target_id is not null
    union all select 'reason', reason from operations where reason is not null`);
}
