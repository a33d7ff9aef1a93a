import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type CycleInfo, createSimulator, type SimulatorProgress, type SimulatorSummary } from './index.js';

export const simulateUsage = `scimtap simulate — send Entra-like SCIM provisioning traffic to any SCIM endpoint

Usage:
  scimtap simulate --target URL --token TOKEN [options]

Options:
  --target URL        base URL of the SCIM API (the app, or scimtap's listener in front of it)   required
  --token TOKEN       bearer token (Tanium SSO tokens start with "token-")                       required
  --users N           users in the simulated directory                                 (default 200)
  --groups M          groups                                                           (default 20)
  --members K         members per group                                                (default 10)
  --cycles C          cycles to run, 0 = until Ctrl-C                                  (default 1)
  --interval S        seconds between cycle starts (Entra: about 2400)                 (default 60)
  --rate R            requests per second, evenly spaced, 0 = as fast as possible      (default 25)
  --seed X            the same seed replays the same traffic                           (default 1)
  --dialect D         PATCH dialect: 2017 (Entra's default) or flag (aadOptscim062020)  (default 2017)
  --concurrency N     requests in flight at once                                       (default 1)
  --insecure          accept any TLS certificate (self-signed test endpoints)

The first cycle starts with Entra's probe (a filter query for a random GUID). If it is refused, the token is
rejected or the answer is not SCIM, the run stops there with exit status 1. Bad options: exit status 2.
`;

const count = (name: string, min = 0) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .int(`--${name} must be a whole number`)
    .min(min, `--${name} must be at least ${min}`);

const flagsSchema = z.object({
  target: z
    .string({ error: '--target is required (the SCIM base URL, e.g. https://tenant.example.com/scim/v2)' })
    .refine((v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, '--target must be an http:// or https:// URL'),
  token: z.string({ error: '--token is required' }).min(1, '--token must not be empty'),
  users: count('users').default(200),
  groups: count('groups').default(20),
  members: count('members').default(10),
  cycles: count('cycles').default(1),
  interval: z.coerce
    .number({ error: '--interval must be a number' })
    .min(0, '--interval must be at least 0')
    .default(60),
  rate: z.coerce.number({ error: '--rate must be a number' }).min(0, '--rate must be at least 0').default(25),
  seed: count('seed').default(1),
  dialect: z.enum(['2017', 'flag'], { error: '--dialect must be 2017 or flag' }).default('2017'),
  concurrency: count('concurrency', 1).max(64, '--concurrency must be at most 64').default(1),
  insecure: z.boolean().default(false),
});
export type SimulateFlags = z.infer<typeof flagsSchema>;

const flagNames = [
  'target',
  'token',
  'users',
  'groups',
  'members',
  'cycles',
  'interval',
  'rate',
  'seed',
  'dialect',
  'concurrency',
];

/** Parses and validates the flags; throws a message listing every problem. */
export function parseSimulateFlags(argv: string[]): SimulateFlags {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(flagNames.map((name) => [name, { type: 'string' as const }])),
        insecure: { type: 'boolean' as const },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError([(err as Error).message]);
  }
  const result = flagsSchema.safeParse(values);
  if (!result.success) throw new UsageError(result.error.issues.map((issue) => issue.message));
  return result.data;
}

export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export interface SimulateIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** registers a Ctrl-C handler; returns its removal */
  onInterrupt(handler: () => void): () => void;
}

const defaultIo: SimulateIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
};

/** `scimtap simulate`: returns the exit status. */
export async function runSimulate(argv: string[], io: SimulateIo = defaultIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(simulateUsage);
    return 0;
  }
  let flags: SimulateFlags;
  try {
    flags = parseSimulateFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(
      `scimtap simulate: invalid options:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n\nRun scimtap simulate --help for the options.\n`,
    );
    return 2;
  }

  const tty = Boolean(io.stderr.isTTY);
  const started = Date.now();
  const status = createStatusLine(io.stderr, tty);
  const simulator = createSimulator({
    target: flags.target,
    token: flags.token,
    users: flags.users,
    groups: flags.groups,
    membersPerGroup: flags.members,
    cycles: flags.cycles,
    intervalMs: flags.interval * 1000,
    rate: flags.rate,
    seed: flags.seed,
    dialect: flags.dialect,
    concurrency: flags.concurrency,
    stopOnFirstProbeFailure: true,
    tlsInsecure: flags.insecure,
    // A wrong URL that swallows requests should fail within a reasonable time, not Entra's 60 s per call.
    requestTimeoutMs: 30_000,
    onCycle(info) {
      const text = cycleEndLine(info, Date.now());
      if (text === null) return;
      status.clear();
      io.stderr.write(text);
    },
  });

  const render = () => {
    const text = progressLine(simulator.progress(), flags.cycles, (Date.now() - started) / 1000, tty);
    if (text !== null) status.line(text);
  };
  // A terminal gets a live bar; a log file gets a plain line every 5 s.
  const ticker = setInterval(render, tty ? 200 : 5_000);
  const removeInterrupt = io.onInterrupt(() => simulator.stop());
  let summary: SimulatorSummary;
  try {
    summary = await simulator.run();
  } finally {
    clearInterval(ticker);
    removeInterrupt();
    status.clear();
  }

  if (summary.stoppedReason === 'probeFailed') {
    io.stderr.write(`scimtap simulate: ${explainProbeFailure(flags.target, summary.probeFailure)}\n`);
    return 1;
  }
  io.stdout.write(formatSummary(summary));
  return summary.stoppedReason === 'stopped' ? 130 : 0;
}

/** The line for a cycle that ended; null when there is nothing to add. */
function cycleEndLine(info: CycleInfo, now: number): string | null {
  if (info.phase !== 'end' || info.aborted === 'stopped') return null;
  // The final message explains a first probe that fails; a line for the skipped cycle would repeat it.
  if (info.aborted === 'probeFailed' && info.cycle === 1) return null;
  const seconds = ((now - info.startedAt) / 1000).toFixed(1);
  const aborted =
    info.aborted === 'probeFailed' ? ` — probe failed (${describeProbe(info.probe)}), cycle skipped` : '';
  return `cycle ${info.cycle} (${info.kind}): ${info.requests} requests, ${info.failures} failures, ${seconds} s${aborted}\n`;
}

/** The live status: a bar on a terminal, a plain line otherwise; null before the first cycle. */
function progressLine(p: SimulatorProgress, cycles: number, elapsed: number, tty: boolean): string | null {
  if (p.cycle === 0) return null;
  const of = cycles === 0 ? '' : `/${cycles}`;
  const perSecond = elapsed > 0 ? Math.round(p.requests / elapsed) : 0;
  const tail = `${p.requests} requests · ${p.failures} failures · ${perSecond}/s`;
  if (p.waitingMs !== null) {
    return `cycle ${p.cycle}${of} done · next in ${Math.ceil(p.waitingMs / 1000)} s · ${tail}`;
  }
  const total = Math.max(p.objectsTotal, p.objectsDone);
  const share = total === 0 ? 0 : p.objectsDone / total;
  const width = 24;
  const filled = Math.round(share * width);
  const bar = tty ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
  return `cycle ${p.cycle}${of} ${p.kind ?? ''} ${bar}${p.objectsDone}/${total} objects · ${tail}`;
}

/** On a terminal one line rewritten in place; elsewhere one line per update. */
function createStatusLine(stderr: SimulateIo['stderr'], tty: boolean) {
  let lastLineLength = 0;
  return {
    line(text: string) {
      if (tty) {
        const shown = text.slice(0, Math.max(20, (stderr.columns || 120) - 1));
        stderr.write(`\r${shown}${' '.repeat(Math.max(0, lastLineLength - shown.length))}`);
        lastLineLength = shown.length;
      } else {
        stderr.write(`${text}\n`);
      }
    },
    clear() {
      if (tty && lastLineLength > 0) stderr.write(`\r${' '.repeat(lastLineLength)}\r`);
      lastLineLength = 0;
    },
  };
}

function describeProbe(probe: SimulatorSummary['probeFailure']): string {
  if (!probe) return 'no answer';
  return probe.httpStatus === null
    ? (probe.error ?? 'no answer')
    : `HTTP ${probe.httpStatus}${probe.error ? `: ${probe.error}` : ''}`;
}

/** Says what is wrong and what to check, in the terms an admin filling in Entra's Tenant URL and Secret Token uses. */
export function explainProbeFailure(target: string, probe: SimulatorSummary['probeFailure']): string {
  const status = probe?.httpStatus ?? null;
  const detail = probe?.error ? `: ${probe.error}` : '';
  if (status === null) {
    return `cannot reach ${target}${detail}. Check --target (the SCIM base URL, e.g. https://tenant.example.com/scim/v2) and that the server is running.`;
  }
  if (status === 401 || status === 403) {
    return `the target rejected the token (HTTP ${status}${detail}) on the first request, Entra's Test Connection probe. Check --token (Tanium SSO tokens include their "token-" prefix).`;
  }
  if (status === 404) {
    return `the first request (a userName filter query) got HTTP 404${detail}. Either --target is not the SCIM base URL, or the app answers 404 instead of an empty ListResponse, which Entra treats as a SCIM compliance failure and quarantines.`;
  }
  return `the first request (Entra's Test Connection probe) failed with HTTP ${status}${detail}. Entra would not start a cycle against this endpoint.`;
}

export function formatSummary(s: SimulatorSummary): string {
  const lines = [
    `simulated ${s.cycles} cycle${s.cycles === 1 ? '' : 's'}: ${s.requests} requests, ${s.failures} failures in ${(s.durationMs / 1000).toFixed(1)} s (${s.stoppedReason})`,
  ];
  for (const [kind, c] of Object.entries(s.byKind)) {
    lines.push(
      `  ${kind.padEnd(15)} ${String(c.success).padStart(7)} ok ${String(c.failure).padStart(7)} failed`,
    );
  }
  const statuses = Object.entries(s.byHttpStatus)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  lines.push(`  HTTP status     ${statuses || 'none'}`);
  lines.push(
    `  still pending   ${s.pending.users} users, ${s.pending.groups} groups (retried next cycle, like Entra's escrow)`,
  );
  return `${lines.join('\n')}\n`;
}
