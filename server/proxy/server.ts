import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config.js';

export interface ListenOptions extends HostPort {
  tls?: { cert: string; key: string };
  /** how long a client may take to send its request headers (slowloris); tests lower it */
  headersTimeoutMs?: number;
  /** the proxy's body deadline (SCIMTAP_BODY_TIMEOUT_MS): Node's request timeout is set just past it */
  bodyTimeoutMs?: number;
}

/** An HTTP(S) server for the proxy listener with limits that keep one bad client from hurting others. */
export async function listen(
  { host, port, tls, headersTimeoutMs = 20_000, bodyTimeoutMs = 30_000 }: ListenOptions,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  // Node checks the headers timeout only every connectionsCheckingInterval (default 30 s), so a slowloris
  // client could hold a socket for up to 50 s; checking every second makes the limit what it says.
  // A TLS client that never finishes its handshake is held to the same limit (Node's default is 120 s).
  const options = { connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs) };
  const tlsOptions = { ...options, handshakeTimeout: headersTimeoutMs };
  const server: Server = tls
    ? https.createServer({ ...tlsOptions, cert: tls.cert, key: tls.key }, handler)
    : http.createServer(options, handler);
  // Slowloris: headers must arrive within 20 s. Keep-alive longer than common load balancers' 60 s idle.
  server.headersTimeout = headersTimeoutMs;
  server.keepAliveTimeout = 65_000;
  // The proxy's own body deadline answers first, with a SCIM 408, and aborts the upstream request. This is the
  // backstop for a body still trickling after the exchange has ended (the upstream answered before reading it):
  // Node closes that connection with a bare 408.
  server.requestTimeout = headersTimeoutMs + bodyTimeoutMs + 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    close: () => closeGracefully(server),
  };
}

/** Stop accepting, let in-flight requests finish, then drop idle keep-alive connections. */
export function closeGracefully(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** A listener that cannot bind, named with the setting that moves it. */
export function listenerError(
  which: 'proxy' | 'admin',
  key: 'listen' | 'adminListen',
  { host, port }: { host: string; port: number },
  err: unknown,
): Error {
  const setting = key === 'listen' ? 'SCIMTAP_LISTEN (--listen)' : 'SCIMTAP_ADMIN_LISTEN (--admin-listen)';
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === 'EADDRINUSE'
      ? `: the port is in use; stop what holds it, or choose another port with ${setting}`
      : code === 'EACCES'
        ? `: not allowed to bind this port (below 1024 needs privileges); choose another with ${setting}`
        : code === 'EADDRNOTAVAIL'
          ? `: this host has no such address; fix ${setting}`
          : ` (${setting})`;
  return new Error(`${which} listener ${host}:${port}: ${(err as Error).message}${hint}`);
}
