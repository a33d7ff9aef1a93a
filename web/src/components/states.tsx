import type { ReactNode } from 'react';
import { ApiError } from '../lib/api-client.js';

// Every view handles these three first (STYLE: bulletproof-react), with the same look everywhere.

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-busy="true">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="state state-empty" role="status">
      {children}
    </div>
  );
}

export function ErrorView({ error, what }: { error: unknown; what: string }) {
  const message =
    error instanceof ApiError
      ? `${error.status === 404 ? 'Not found' : `HTTP ${error.status}`}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <div className="state state-error" role="alert">
      <span aria-hidden="true">⚠</span> Could not load {what}. {message}
    </div>
  );
}

/** A small inline note that a refresh failed while older data is still shown. */
export function StaleNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="stale-note" role="status">
      <span aria-hidden="true">⚠</span> Live refresh failed (
      {error instanceof Error ? error.message : 'error'}); showing the last data received.
    </p>
  );
}
