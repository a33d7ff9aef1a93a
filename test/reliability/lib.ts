import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

// Shared tools for the reliability suite: polling with deadlines (never blind sleeps), a real scimtap process,
// raw sockets for byte-level faults, and a small HTTP/1.1 response parser for what those sockets read back.

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

type Maybe<T> = T | undefined | false;

/** Polls `f` (sync or async) until it gives something other than undefined/false, or throws after `ms`. */
export async function until<T>(
  f: () => Maybe<T> | Promise<Maybe<T>>,
  ms: number,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export interface ScimtapProcess {
  child: ChildProcess;
  pid: number;
  proxyUrl: string;
  adminUrl: string;
  /** everything the process wrote to stdout and stderr so far */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node bin/scimtap.js` as an operator runs it, on ports chosen by the OS: the listeners' URLs are read back
 * from the startup log line. `env` adds SCIMTAP_* variables.
 */
export async function spawnScimtap(
  env: Record<string, string>,
  startupMs = 60_000,
  /** where bin/scimtap.js is: the checkout, or an installed copy */
  cwd = repoRoot,
): Promise<ScimtapProcess> {
  const child = spawn(process.execPath, ['bin/scimtap.js'], {
    cwd,
    env: {
      ...process.env,
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  let line: string;
  try {
    line = await until(
      () => {
        if (dead) throw new Error(`scimtap exited during startup:\n${output}`);
        return output.split('\n').find((l) => l.includes('scimtap is forwarding'));
      },
      startupMs,
      'scimtap to start (its info-level "scimtap is forwarding" line)',
    );
  } catch (err) {
    // Never leave a process behind that the caller has no handle on.
    child.kill('SIGKILL');
    throw err;
  }
  const started = JSON.parse(line) as { proxy: string; admin: string };
  return {
    child,
    pid: child.pid!,
    proxyUrl: started.proxy,
    adminUrl: started.admin,
    output: () => output,
    exited,
  };
}

/** Stops a spawned scimtap with SIGTERM (a clean shutdown), or leaves it alone if it has already exited. */
export async function stopProcess(p: ScimtapProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await p.exited;
  clearTimeout(timer);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** true when the body ended as its framing said (content-length reached, last chunk, or close-delimited) */
  complete: boolean;
}

/** Parses what a raw socket read back; `null` when not even a status line arrived. */
export function parseResponse(bytes: Buffer): RawResponse | null {
  // Interim answers (100 Continue, 103 Early Hints) precede the real one.
  while (/^HTTP\/1\.[01] 1(?!01)\d\d /.test(bytes.subarray(0, 16).toString('latin1'))) {
    const interimEnd = bytes.indexOf('\r\n\r\n');
    if (interimEnd === -1) return null;
    bytes = bytes.subarray(interimEnd + 4);
  }
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const head = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const rest = bytes.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd === -1) return { status, headers, body: Buffer.concat(parts), complete: false };
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return { status, headers, body: Buffer.concat(parts), complete: false };
      if (size === 0) return { status, headers, body: Buffer.concat(parts), complete: true };
      const chunk = rest.subarray(lineEnd + 2, lineEnd + 2 + size);
      parts.push(chunk);
      if (chunk.length < size) return { status, headers, body: Buffer.concat(parts), complete: false };
      at = lineEnd + 2 + size + 2;
    }
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return { status, headers, body: rest.subarray(0, length), complete: rest.length >= length };
  }
  return { status, headers, body: rest, complete: true };
}

/**
 * Writes raw bytes to `url`'s host and reads until the server closes (send `Connection: close`), or until
 * `timeoutMs`. Resolves with what was read and how the socket ended; never rejects.
 */
export function rawExchange(
  url: string,
  bytes: Buffer,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<{ bytes: Buffer; closedBy: 'server' | 'timeout' | 'error'; ms: number }> {
  const u = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    let closedBy: 'server' | 'timeout' | 'error' = 'server';
    const timer = setTimeout(() => {
      closedBy = 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      if (closedBy === 'server') closedBy = 'error';
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closedBy, ms: Date.now() - started });
    });
    socket.write(bytes);
  });
}

/** One request with node:http that always settles: the answer, or how it failed, and how long it took. */
export function request(
  url: string,
  {
    method = 'GET',
    path,
    headers,
    body,
    agent = false,
    ca,
  }: {
    method?: string;
    path?: string;
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    agent?: http.Agent | false;
    ca?: string;
  } = {},
): Promise<{
  status: number | null;
  body: Buffer;
  error: string | null;
  ms: number;
  headers: http.IncomingHttpHeaders;
}> {
  const u = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let status: number | null = null;
    let resHeaders: http.IncomingHttpHeaders = {};
    const done = (error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ status, body: Buffer.concat(chunks), error, ms: Date.now() - started, headers: resHeaders });
    };
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      {
        hostname: u.hostname,
        port: u.port,
        method,
        path: path ?? `${u.pathname}${u.search}`,
        headers,
        agent,
        ca,
      },
      (res) => {
        status = res.statusCode ?? null;
        resHeaders = res.headers;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null));
        res.on('error', (err) => done(err.message || 'response error'));
        res.on('close', () => done(res.complete ? null : 'response closed before it was complete'));
      },
    );
    req.on('error', (err) => done(err.message || String(err)));
    req.end(body);
  });
}

/**
 * A raw TCP upstream: `onConnection` gets each socket and the request head once it has arrived, so a test can
 * answer with any bytes, stall, half-close or reset exactly where it wants.
 */
export async function startRawUpstream(
  onRequest: (socket: net.Socket, head: string, index: { connection: number; onConnection: number }) => void,
  { allowHalfOpen = false }: { allowHalfOpen?: boolean } = {},
): Promise<{
  url: string;
  port: number;
  connections: number;
  closed: number;
  requests: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, closed: 0, requests: 0 };
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    const connection = ++state.connections;
    sockets.add(socket);
    socket.on('close', () => {
      state.closed++;
      sockets.delete(socket);
    });
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let onConnection = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Requests in these tests have no body: each head ends the request.
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        state.requests++;
        onRequest(socket, head, { connection, onConnection: ++onConnection });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return state.connections;
    },
    get closed() {
      return state.closed;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
