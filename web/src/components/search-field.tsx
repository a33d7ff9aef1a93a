import { useId } from 'react';
import { useDebouncedInput } from '../lib/use-debounced.js';

/** A filter form's free-text Search box: reports the trimmed text (undefined when blank) once typing pauses. */
export function SearchField({
  value,
  placeholder,
  onChange,
}: {
  value: string | undefined;
  placeholder: string;
  onChange(q: string | undefined): void;
}) {
  const id = useId();
  const [q, setQ] = useDebouncedInput(value ?? '', (v) => onChange(v.trim() || undefined));
  return (
    <div className="field field-wide">
      <label htmlFor={id}>Search</label>
      <input
        id={id}
        type="search"
        placeholder={placeholder}
        value={q}
        onChange={(e) => setQ(e.target.value)}
      />
    </div>
  );
}
