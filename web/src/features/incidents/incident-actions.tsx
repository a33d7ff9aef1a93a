import { type FormEvent, useId, useState } from 'react';
import type { Incident } from '../../types/api.js';
import { useAckIncident, useCreateSilence } from './api.js';

const durations = [
  { value: '60', label: '1 hour' },
  { value: '240', label: '4 hours' },
  { value: '1440', label: '24 hours' },
  { value: '10080', label: '7 days' },
];

/** Identity part of an incident's scope (`identity:<key>`), for a silence that mutes one user only. */
export function scopeIdentity(scope: string): string | undefined {
  return scope.startsWith('identity:') ? scope.slice('identity:'.length) : undefined;
}

export function AckButton({ incident, comment }: { incident: Incident; comment?: string }) {
  const ack = useAckIncident();
  if (incident.acknowledgedAt) {
    return (
      <span className="badge badge-acknowledged">
        <span aria-hidden="true">✓</span> acknowledged
        {incident.acknowledgedBy ? ` by ${incident.acknowledgedBy}` : ''}
      </span>
    );
  }
  if (incident.state === 'resolved') return null;
  return (
    <>
      <button
        type="button"
        onClick={() => ack.mutate({ id: incident.id!, comment: comment || undefined })}
        disabled={ack.isPending}
        aria-label={`Acknowledge incident ${incident.id} (${incident.rule})`}
      >
        {ack.isPending ? 'Acknowledging…' : 'Acknowledge'}
      </button>
      {ack.error ? (
        <span className="form-error" role="alert">
          {ack.error.message}
        </span>
      ) : null}
    </>
  );
}

export function AckForm({ incident }: { incident: Incident }) {
  const [comment, setComment] = useState('');
  const id = useId();
  if (incident.acknowledgedAt || incident.state === 'resolved') return <AckButton incident={incident} />;
  return (
    <div className="inline-form">
      <div className="field field-wide">
        <label htmlFor={id}>Comment (optional)</label>
        <input
          id={id}
          value={comment}
          maxLength={500}
          onChange={(e) => setComment(e.target.value)}
          placeholder="e.g. rotating the token"
        />
      </div>
      <AckButton incident={incident} comment={comment} />
    </div>
  );
}

/** Silence a rule (or one identity's part of it) until an expiry; the API stores it and the emails stop. */
export function SilenceForm({
  rule,
  identity,
  onDone,
}: {
  rule: string;
  identity?: string;
  onDone?(): void;
}) {
  const create = useCreateSilence();
  const [minutes, setMinutes] = useState('240');
  const [comment, setComment] = useState('');
  const [onlyIdentity, setOnlyIdentity] = useState(Boolean(identity));
  const ids = { duration: useId(), comment: useId(), identity: useId() };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      {
        rule,
        identity: onlyIdentity ? identity : undefined,
        comment: comment.trim() || undefined,
        expiresAt: new Date(Date.now() + Number(minutes) * 60_000).toISOString(),
      },
      { onSuccess: () => onDone?.() },
    );
  };
  return (
    <form className="inline-form silence-form" onSubmit={submit} aria-label={`Silence ${rule}`}>
      <div className="field">
        <label htmlFor={ids.duration}>Silence {rule} for</label>
        <select id={ids.duration} value={minutes} onChange={(e) => setMinutes(e.target.value)}>
          {durations.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </select>
      </div>
      {identity ? (
        <div className="field">
          <span className="field-label">Scope</span>
          <label className="checkbox" htmlFor={ids.identity}>
            <input
              id={ids.identity}
              type="checkbox"
              checked={onlyIdentity}
              onChange={(e) => setOnlyIdentity(e.target.checked)}
            />{' '}
            only {identity}
          </label>
        </div>
      ) : null}
      <div className="field field-wide">
        <label htmlFor={ids.comment}>Why (optional)</label>
        <input
          id={ids.comment}
          value={comment}
          maxLength={500}
          onChange={(e) => setComment(e.target.value)}
          placeholder="e.g. vendor maintenance"
        />
      </div>
      <button type="submit" disabled={create.isPending}>
        {create.isPending ? 'Silencing…' : 'Silence'}
      </button>
      {create.error ? (
        <span className="form-error" role="alert">
          {create.error.message}
        </span>
      ) : null}
      {create.isSuccess ? (
        <span className="form-ok" role="status">
          <span aria-hidden="true">✓</span> Silenced.
        </span>
      ) : null}
    </form>
  );
}
