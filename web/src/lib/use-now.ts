import { useEffect, useState } from 'react';

/** The current time, re-rendering every `ms` (countdowns and elapsed times tick without refetching). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
