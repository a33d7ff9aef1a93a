import { useId } from 'react';

/**
 * A labelled filter drop-down whose empty first choice means "no filter" (the value is then undefined).
 * Options show their value unless `labels` words it differently.
 */
export function FilterSelect({
  label,
  value,
  options,
  onChange,
  anyLabel = 'any',
  labels,
}: {
  label: string;
  value: string | undefined;
  options: readonly string[];
  onChange(v: string | undefined): void;
  anyLabel?: string;
  labels?: Readonly<Record<string, string>>;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">{anyLabel}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {labels?.[o] ?? o}
          </option>
        ))}
      </select>
    </div>
  );
}
