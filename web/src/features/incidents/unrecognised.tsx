import { Empty, ErrorView, Loading } from '../../components/states.js';
import { HttpStatus } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { useUnrecognised } from './api.js';

/**
 * Requests from outside Entra's provisioning job (scanners, wrong tokens, refused addresses), shown apart:
 * they are in no cycle, no identity's outcome and no credentials incident.
 */
export function UnrecognisedClients() {
  const { data, error, isPending } = useUnrecognised();
  return (
    <section className="card" id="unrecognised" aria-labelledby="unrecognised-title">
      <h2 id="unrecognised-title">Unrecognised clients (last 24 h)</h2>
      <p className="muted small">
        Requests that are not Entra's provisioning job: no token, a token the app never accepted once Entra's
        has, or an address outside SCIMTAP_TRUSTED_CLIENTS. They never count as credentials failures or
        failing users.
      </p>
      {isPending ? (
        <Loading />
      ) : error && !data ? (
        <ErrorView error={error} what="unrecognised clients" />
      ) : data.count === 0 ? (
        <Empty>
          <span aria-hidden="true">✓</span> Only Entra's provisioning job called the proxy.
        </Empty>
      ) : (
        <>
          <p data-testid="unrecognised-count">
            <strong>
              {data.capped ? 'at least ' : ''}
              {data.count}
            </strong>{' '}
            request{data.count === 1 ? '' : 's'}
            {data.refused > 0 ? ` (${data.refused} refused by SCIMTAP_TRUSTED_CLIENTS)` : ''}, last{' '}
            <Time iso={data.lastSeen} />
          </p>
          <div className="grid">
            <CountTable caption="Addresses" rows={data.addresses} />
            <CountTable caption="Paths" rows={data.paths} />
          </div>
          <table className="table compact">
            <caption className="sr-only">Recent unrecognised requests</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Address</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Token</th>
              </tr>
            </thead>
            <tbody>
              {data.recent.map((r) => (
                <tr key={r.id}>
                  <td className="nowrap">
                    <Time iso={r.activityDateTime} />
                  </td>
                  <td>{r.clientIp ?? <span className="muted">unknown</span>}</td>
                  <td className="reason-cell">
                    {r.httpMethod} {r.path}
                  </td>
                  <td>
                    <HttpStatus status={r.httpStatus} />
                  </td>
                  <td>
                    {r.tokenFingerprint ? (
                      <code>{r.tokenFingerprint}</code>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function CountTable({ caption, rows }: { caption: string; rows: { value: string; count: number }[] }) {
  return (
    <table className="table compact">
      <caption>{caption}</caption>
      <tbody>
        {rows.slice(0, 10).map((r) => (
          <tr key={r.value}>
            <td className="reason-cell">{r.value}</td>
            <td>{r.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
