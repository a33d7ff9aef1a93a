import http from 'node:http';
import https from 'node:https';

export interface HttpResult {
  /** null when no response arrived (refused, DNS, reset, timeout) */
  status: number | null;
  /** parsed JSON body, or undefined when empty or not JSON */
  body: unknown;
  /** network-level problem, e.g. `connect ECONNREFUSED 127.0.0.1:9` or `timeout after 60000 ms` */
  error: string | null;
}

export interface ScimClient {
  request(method: string, path: string, body?: unknown): Promise<HttpResult>;
  close(): void;
}

export interface ClientOptions {
  /** base URL of the SCIM API, e.g. http://127.0.0.1:8080/scim/v2 */
  target: string;
  token: string;
  timeoutMs?: number;
  /** sockets kept open; one per concurrent worker is enough */
  maxSockets?: number;
  userAgent?: string;
  /** accept any TLS certificate (demo mode calling its own listener, rehearsals against self-signed apps) */
  tlsInsecure?: boolean;
}

/**
 * node:http with a keep-alive agent rather than global fetch: at thousands of requests per second the
 * per-request overhead of undici's fetch and of new connections dominates.
 */
export function createScimClient({
  target,
  token,
  timeoutMs = 60_000,
  maxSockets = 4,
  userAgent = 'scimtap-simulator (like Microsoft.AAD.Provisioning)',
  tlsInsecure = false,
}: ClientOptions): ScimClient {
  const base = new URL(target);
  const secure = base.protocol === 'https:';
  const transport = secure ? https : http;
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: !tlsInsecure })
    : new http.Agent({ keepAlive: true, maxSockets });
  const basePath = base.pathname.replace(/\/+$/, '');
  const authorization = `Bearer ${token}`;

  function request(method: string, path: string, body?: unknown): Promise<HttpResult> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      authorization,
      accept: 'application/scim+json',
      'user-agent': userAgent,
    };
    if (payload) {
      headers['content-type'] = 'application/scim+json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve) => {
      let settled = false;
      const done = (result: HttpResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const req = transport.request(
        {
          protocol: base.protocol,
          hostname: base.hostname.replace(/^\[|\]$/g, ''),
          port: base.port || (secure ? 443 : 80),
          method,
          path: basePath + path,
          headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            if (text) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = undefined;
              }
            }
            done({ status: res.statusCode ?? null, body: parsed, error: null });
          });
          res.on('error', (err) =>
            done({ status: res.statusCode ?? null, body: undefined, error: err.message }),
          );
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy(new Error(`timeout after ${timeoutMs} ms`));
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        done({ status: null, body: undefined, error: describeError(err) }),
      );
      req.end(payload);
    });
  }

  return { request, close: () => agent.destroy() };
}

function describeError(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
    return `DNS lookup failed for ${(err as { hostname?: string }).hostname ?? 'the host'} (${err.code})`;
  return err.message || err.code || String(err);
}
