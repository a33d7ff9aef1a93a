import { useCallback, useState } from 'react';

/**
 * Cursor paging with a stack: Next pushes the API's nextCursor, Previous pops it. Pages are fetched one at a
 * time, never everything. The stack resets when `resetKey` (the filters) changes.
 */
export function useCursorStack(resetKey: string) {
  const [state, setState] = useState<{ key: string; stack: string[] }>({ key: resetKey, stack: [] });
  const stack = state.key === resetKey ? state.stack : [];
  const next = useCallback(
    (cursor: string) => setState({ key: resetKey, stack: [...stack, cursor] }),
    [resetKey, stack],
  );
  const previous = useCallback(
    () => setState({ key: resetKey, stack: stack.slice(0, -1) }),
    [resetKey, stack],
  );
  const first = useCallback(() => setState({ key: resetKey, stack: [] }), [resetKey]);
  return { cursor: stack.at(-1), page: stack.length + 1, next, previous, first };
}

export type CursorStack = ReturnType<typeof useCursorStack>;

/** The buttons for a `useCursorStack`; `nextCursor` is the current page's, `busy` while the next one loads. */
export function Pager({
  label,
  pager,
  nextCursor,
  busy,
}: {
  label: string;
  pager: CursorStack;
  nextCursor: string | null | undefined;
  busy?: boolean;
}) {
  const { page } = pager;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={pager.first} disabled={page === 1}>
        « Newest
      </button>
      <button type="button" onClick={pager.previous} disabled={page === 1}>
        ‹ Previous
      </button>
      <span className="pager-page" aria-live="polite">
        Page {page}
        {busy ? ' · loading…' : ''}
      </span>
      <button type="button" onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        Next ›
      </button>
    </nav>
  );
}
