import { nearest } from './nearest.js';
import { appSchema, rulesSchema } from './schema.js';
import { describeKey, sources } from './sources.js';

// How a configuration problem is told: every problem at once, naming the setting, echoing the bad value (never a
// secret's) and suggesting the nearest valid name.

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    /** said too: an unknown variable is often the reason a required one is missing */
    readonly warnings: string[] = [],
  ) {
    super(
      `invalid configuration:\n${[...problems, ...warnings.map((w) => `warning: ${w}`)].map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

// Values of these keys are never echoed in an error: they are, or may contain, credentials.
const secretKey = /token|secret|password|smtp|webhook|routingkey|key$/i;

/** The keys the config file may hold at `path` (an object of the file), for "did you mean". */
function validKeysAt(path: PropertyKey[]): string[] {
  const inApp = path[0] === 'apps';
  if (path[0] === 'rules' || (inApp && path[2] === 'rules')) return Object.keys(rulesSchema.shape);
  if (inApp) return Object.keys(appSchema.shape);
  return [...Object.keys(sources), 'rules', 'receivers', 'apps'];
}

/** One zod issue as the operator should read it: which setting, what is wrong, what was given, what was meant. */
export function describeIssue(
  issue: { path: PropertyKey[]; message: string; code?: string; keys?: string[] },
  raw: Record<string, unknown>,
): string[] {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const where = issue.path.length ? `config file key ${issue.path.map(String).join('.')}` : 'config file';
    const valid = validKeysAt(issue.path);
    return issue.keys.map((k) => {
      const near = nearest(k, valid);
      return `${where}: unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`;
    });
  }
  const key = String(issue.path[0] ?? '');
  let value: unknown = raw;
  for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p];
  const shown =
    value === undefined ||
    key === 'receivers' ||
    secretKey.test(key) ||
    secretKey.test(String(issue.path.at(-1) ?? ''))
      ? ''
      : ` (got ${JSON.stringify(typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
  return [`${describeKey(issue.path)}: ${issue.message}${shown}`];
}
