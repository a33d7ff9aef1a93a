import { useEffect, useRef, useState } from 'react';

/**
 * A text input's value that follows `external` (the URL) and reports edits after `ms` of quiet, so typing in
 * a search box does not fire one request per key.
 */
export function useDebouncedInput(external: string, onCommit: (value: string) => void, ms = 350) {
  const [value, setValue] = useState(external);
  const last = useRef(external);
  const commit = useRef(onCommit);
  commit.current = onCommit;
  // The URL changed from elsewhere (back button, Clear): show it.
  if (external !== last.current) {
    last.current = external;
    if (value !== external) setValue(external);
  }
  useEffect(() => {
    if (value === last.current) return;
    const t = setTimeout(() => {
      last.current = value;
      commit.current(value);
    }, ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return [value, setValue] as const;
}
