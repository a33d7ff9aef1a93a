import type { ReactNode } from 'react';

/**
 * A list page's table: scrolls sideways on narrow screens, captioned for screen readers, and dimmed while
 * react-query shows the previous page as a placeholder for the one loading.
 */
export function DataTable({
  caption,
  placeholder,
  compact,
  className,
  children,
}: {
  caption: string;
  placeholder: boolean;
  compact?: boolean;
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className="table-scroll">
      <table
        className={`table${compact ? ' compact' : ''}${placeholder ? ' is-placeholder' : ''}${className ? ` ${className}` : ''}`}
      >
        <caption className="sr-only">{caption}</caption>
        {children}
      </table>
    </div>
  );
}
