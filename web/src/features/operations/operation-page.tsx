import { Link } from '../../lib/router.js';
import { OperationDetail } from './operation-detail.js';

/** /operations/:id, the deep link to one operation. */
export function OperationPage({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  return (
    <>
      <header className="page-header">
        <p className="breadcrumb">
          <Link to="/operations">Operations</Link> /
        </p>
        <h1>Operation {Number.isInteger(id) && id > 0 ? `#${id}` : params.id}</h1>
      </header>
      {Number.isInteger(id) && id > 0 ? (
        <section className="card">
          <OperationDetail id={id} />
        </section>
      ) : (
        <p role="alert">“{params.id}” is not an operation id.</p>
      )}
    </>
  );
}
