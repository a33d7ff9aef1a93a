import { type FormEvent, useId, useState } from 'react';

export function TokenForm({ rejected, onSubmit }: { rejected: boolean; onSubmit(token: string): void }) {
  const [value, setValue] = useState('');
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return (
    <main className="token-page">
      <form className="card token-form" onSubmit={submit} aria-describedby={`${id}-help`}>
        <h1>scimtap</h1>
        <p id={`${id}-help`}>
          This dashboard is protected by <code>SCIMTAP_ADMIN_TOKEN</code>. Enter it once; it is kept for this
          browser tab only.
        </p>
        {rejected ? (
          <p className="form-error" role="alert">
            <span aria-hidden="true">✕</span> That token was rejected. Check SCIMTAP_ADMIN_TOKEN and try
            again.
          </p>
        ) : null}
        <label htmlFor={id}>Admin token</label>
        <input
          id={id}
          type="password"
          autoComplete="current-password"
          // biome-ignore lint/a11y/noAutofocus: the form is the only thing on the page
          autoFocus
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" className="primary" disabled={!value.trim()}>
          Open dashboard
        </button>
      </form>
    </main>
  );
}
