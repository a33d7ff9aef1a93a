/**
 * Remembers `compute`'s answers for the few short strings a SCIM client's requests repeat (its peer address, the
 * hops of a trusted proxy's X-Forwarded-For), so each request does not parse them again. Bounded in both ways a
 * client could grow it: at most `size` answers (forgotten all at once past it), and a string longer than
 * `maxChars` is never remembered (X-Forwarded-For is anyone's to write), only computed.
 */
export function memoize<T>(
  compute: (key: string) => T,
  { size = 1_024, maxChars = 64 } = {},
): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    if (key.length > maxChars) return compute(key);
    if (known.has(key)) return known.get(key) as T;
    const value = compute(key);
    if (known.size >= size) known.clear();
    known.set(key, value);
    return value;
  };
}
