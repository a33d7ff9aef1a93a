// A real scimtap process for the multi-app benchmarks (bench/apps.ts, bench/fleet.ts): `node bin/scimtap.js`
// as production runs it, configured by a JSON file with an `apps` list, so that its RSS, threads and CPU are
// its own and can be read from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

export interface BenchApp {
  id: string;
  name: string;
  upstream: string;
}

export interface ScimtapProcess {
  child: ChildProcess;
  pid: number;
  proxyUrl: string;
  adminUrl: string;
  /** ms from spawn to the admin listener answering */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Writes `<dir>/<name>.json` (the apps list and `extra` top-level settings) and starts scimtap on it with its
 * database at `db` (with several apps, each app's file is appDbPath(db, id)). Logs at warn, so readiness is the
 * admin listener answering /api/health for the first app.
 */
export async function startScimtapProcess(options: {
  dir: string;
  name: string;
  apps: BenchApp[];
  db: string;
  port: number;
  extra?: Record<string, unknown>;
}): Promise<ScimtapProcess> {
  const { dir, name, apps, db, port, extra = {} } = options;
  const configPath = join(dir, `${name}.json`);
  writeFileSync(configPath, JSON.stringify({ ...extra, apps }, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SCIMTAP_CONFIG: configPath,
    SCIMTAP_LISTEN: `127.0.0.1:${port}`,
    SCIMTAP_ADMIN_LISTEN: `127.0.0.1:${port + 1}`,
    SCIMTAP_DB: db,
    SCIMTAP_CAPTURE: 'redacted',
    SCIMTAP_LOG_LEVEL: 'warn',
  };
  // Each app names its upstream: a SCIMTAP_UPSTREAM from the caller's shell would make the file invalid.
  delete env.SCIMTAP_UPSTREAM;
  const started = Date.now();
  const child = spawn(process.execPath, ['bin/scimtap.js'], {
    cwd: root,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const adminUrl = `http://127.0.0.1:${port + 1}`;
  await waitFor(`${adminUrl}/api/health?app=${apps[0].id}`, exited);
  return {
    child,
    pid: child.pid!,
    proxyUrl: `http://127.0.0.1:${port}`,
    adminUrl,
    startMs: Date.now() - started,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls `url` until it answers (any status); fails at once if the process exits first. */
async function waitFor(url: string, exited: Promise<number | null>): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  // Generous: the first start may build dist/server, and 50 pipelines each open and migrate a database.
  const end = Date.now() + 180_000;
  while (Date.now() < end) {
    if (gone !== undefined) throw new Error(`scimtap exited (${gone}) before listening`);
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`scimtap did not answer ${url} within 180 s`);
}

/** VmRSS, VmHWM (peak) in MB and the thread count of a process, from /proc (Linux); null elsewhere. */
export function memory(pid: number): { rssMb: number; peakMb: number; threads: number } | null {
  if (!existsSync(`/proc/${pid}/status`)) return null;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: field('VmRSS') / 1024, peakMb: field('VmHWM') / 1024, threads: field('Threads') };
}

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds used so far by each thread of `pid` (utime + stime), by tid; empty where /proc is missing. */
export function threadCpu(pid: number | undefined): Map<number, number> {
  const cpu = new Map<number, number>();
  if (pid === undefined) return cpu;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // The command name may hold spaces and parentheses: the fields after its closing parenthesis are fixed.
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / ticksPerSecond);
    }
  } catch {
    // not Linux, or the process is gone: no breakdown
  }
  return cpu;
}

/** CPU seconds between two threadCpu snapshots, over the threads `keep` selects (threads born in between count whole). */
export function cpuBetween(
  before: Map<number, number>,
  after: Map<number, number>,
  keep: (tid: number) => boolean = () => true,
): number {
  let s = 0;
  for (const [tid, t] of after) if (keep(tid)) s += t - (before.get(tid) ?? 0);
  return s;
}
