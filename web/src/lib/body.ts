/**
 * A captured body for display: JSON is re-indented so a SCIM payload is readable; anything else is shown as is.
 * The result is always plain text that React escapes; captured content is never rendered as HTML.
 */
export function prettyBody(body: string | null | undefined): string | null {
  if (body === null || body === undefined) return null;
  if (body === '') return '';
  const trimmed = body.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.stringify(JSON.parse(trimmed), null, 2);
    } catch {
      // truncated or not JSON after all
    }
  }
  return body;
}
