import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  /** the raw body, as signed */
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON checked field by field in the tests
  json: any;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/**
 * One local HTTP server standing in for Slack, Teams, PagerDuty and a webhook endpoint, each on its own path
 * (`/slack/<secret>`, ...). It records what it received per path and answers what `answers` says (the real
 * services' success answers by default). `down()` closes the port (connection refused), `up()` reopens it.
 */
export async function startReceivers() {
  const hits: Hit[] = [];
  const answers = new Map<string, Answer>();
  const defaults: Record<string, Answer> = {
    slack: { status: 200, body: 'ok' },
    teams: { status: 202, body: '' },
    pagerduty: {
      status: 202,
      body: '{"status":"success","message":"Event processed","dedup_key":"x"}',
      headers: { 'content-type': 'application/json' },
    },
    webhook: { status: 200, body: '' },
  };
  let server: Server | null = null;
  let port = 0;
  const sockets = new Set<import('node:net').Socket>();
  const listen = () =>
    new Promise<void>((resolve) => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const path = req.url ?? '';
          let json: unknown = null;
          try {
            json = JSON.parse(raw);
          } catch {
            // kept raw: the test asserts JSON
          }
          hits.push({ path, headers: req.headers, raw, json });
          const kind = path.split('/')[1];
          const a = answers.get(kind) ?? defaults[kind] ?? { status: 404, body: 'no such path' };
          res.writeHead(a.status, a.headers ?? {});
          res.end(a.body ?? '');
        });
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    hits,
    /** what one receiver got, by its first path segment */
    on: (kind: string) => hits.filter((h) => h.path.split('/')[1] === kind),
    /** answer `kind`'s requests with this from now on (undefined: the default) */
    answer(kind: string, a: Answer | undefined) {
      if (a) answers.set(kind, a);
      else answers.delete(kind);
    },
    async down() {
      const s = server;
      server = null;
      if (!s) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    up: listen,
    close() {
      return this.down();
    },
  };
}
export type Receivers = Awaited<ReturnType<typeof startReceivers>>;
