import { Empty, ErrorView, Loading } from '../../components/states.js';
import { Time } from '../../components/time.js';
import { formatRelative } from '../../lib/format.js';
import { useNow } from '../../lib/use-now.js';
import { useDeleteSilence, useSilences } from './api.js';

export function SilencesList() {
  const { data, error, isPending } = useSilences();
  const remove = useDeleteSilence();
  const now = useNow(15_000);
  // the API says which are in force; the clock also hides one that expired since the last refresh
  const active = data?.items.filter((s) => s.active && Date.parse(s.expiresAt ?? '') > now) ?? [];
  return (
    <section className="card" aria-labelledby="silences-title">
      <h2 id="silences-title">Silences in force</h2>
      {isPending ? (
        <Loading />
      ) : error && !data ? (
        <ErrorView error={error} what="silences" />
      ) : active.length === 0 ? (
        <Empty>No silence in force. Silence an incident from its row or its page.</Empty>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Identity</th>
              <th scope="col">Expires</th>
              <th scope="col">Why</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((s) => (
              <tr key={s.id} data-silence-id={s.id}>
                <th scope="row">{s.rule}</th>
                <td>{s.identity ?? <span className="muted">all</span>}</td>
                <td className="nowrap">
                  <Time iso={s.expiresAt} />{' '}
                  <span className="muted">({formatRelative(s.expiresAt, now)})</span>
                </td>
                <td>{s.comment || <span className="muted">—</span>}</td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => remove.mutate(s.id)}
                    disabled={remove.isPending}
                    aria-label={`End the silence on ${s.rule}${s.identity ? ` for ${s.identity}` : ''}`}
                  >
                    End
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {remove.error ? (
        <p className="form-error" role="alert">
          {remove.error.message}
        </p>
      ) : null}
    </section>
  );
}
