import type { EvaluationStore } from './ports.js';
import type { Incident } from './types.js';

/**
 * The open incidents in memory, and what of each was last written, so an evaluation that changes nothing
 * writes nothing. The rows are the truth: `reload` after a rolled-back evaluation. `load` reads them (SQLite:
 * a query; PostgreSQL: the rows its evaluation fetched, since a query there cannot answer synchronously); the
 * writes go to the store of the evaluation that makes them.
 */
export function createOpenIncidents(load: () => Incident[]) {
  let open: Incident[] = [];
  /** fingerprint of each stored open incident as last written */
  const stored = new Map<number, string>();

  function reload(): void {
    open = load();
    stored.clear();
    for (const i of open) stored.set(i.id!, fingerprint(i));
  }
  reload();

  return {
    list: (): readonly Incident[] => open,
    replace(next: Incident[]): void {
      open = next;
    },
    find: (id: number) => open.find((i) => i.id === id),
    reload,
    /** A pending incident that never fired is forgotten, row and all. */
    drop(gone: Incident, store: EvaluationStore): void {
      if (gone.id === null) return;
      store.deleteIncident(gone.id);
      stored.delete(gone.id);
    },
    /** Writes an incident if it changed since it was last written (stamping its write time); returns it, stored. */
    persist(incident: Incident, now: number, store: EvaluationStore): Incident & { id: number } {
      const print = fingerprint(incident);
      if (incident.id === null) {
        incident.updatedAt = now;
        incident.id = store.insertIncident(incident);
        stored.set(incident.id, print);
      } else if (stored.get(incident.id) !== print) {
        incident.updatedAt = now;
        store.updateIncident(incident);
        stored.set(incident.id, print);
      }
      if (incident.state === 'resolved') stored.delete(incident.id);
      return incident as Incident & { id: number };
    },
    /** Record that an incident was written elsewhere (an acknowledgement) as it now is. */
    written(incident: Incident & { id: number }): void {
      stored.set(incident.id, fingerprint(incident));
    },
  };
}

/** What is stored of an incident, less its write time: unchanged fingerprints skip the UPDATE. */
function fingerprint(i: Incident): string {
  const { updatedAt: _u, ...rest } = i;
  return JSON.stringify(rest);
}
