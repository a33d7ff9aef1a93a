import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  url: string;
  port: number;
  /** every message accepted, parsed */
  messages: ParsedMail[];
  /** RCPT TO answers: null accepts; a number rejects with that reply code (e.g. 550 no such user, 452 busy) */
  rcptReply: number | null;
  /** resolves once `n` messages arrived (or rejects after `timeoutMs`) */
  waitFor(n: number, timeoutMs?: number): Promise<ParsedMail[]>;
  /** stop listening: connections are refused until `restart` */
  down(): Promise<void>;
  /** listen again on the same port */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A real SMTP server in-process (plain text, no auth required), collecting what it receives. */
export async function startSmtp(): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let server: SMTPServer | null = null;
  let port = 0;

  const state: TestSmtp = {
    url: '',
    port: 0,
    messages,
    rcptReply: null,
    waitFor(n, timeoutMs = 10_000) {
      if (messages.length >= n) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`waited ${timeoutMs} ms for ${n} emails, got ${messages.length}`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(messages.slice());
          },
        });
      });
    },
    down: () =>
      new Promise<void>((resolve) => {
        const s = server;
        server = null;
        if (!s) return resolve();
        s.close(() => resolve());
      }),
    up: () => listen(port),
    close: () => state.down(),
  };

  function create(): SMTPServer {
    return new SMTPServer({
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      logger: false,
      closeTimeout: 100,
      onRcptTo(_address, _session, callback) {
        if (state.rcptReply === null) return callback();
        const err = Object.assign(new Error(`rejected by the test server (${state.rcptReply})`), {
          responseCode: state.rcptReply,
        });
        callback(err);
      },
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            messages.push(mail);
            for (const w of waiters.splice(0)) {
              if (messages.length >= w.n) w.resolve();
              else waiters.push(w);
            }
            callback();
          })
          .catch(callback);
      },
    });
  }

  function listen(at: number): Promise<void> {
    const s = create();
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(at, '127.0.0.1', () => {
        server = s;
        port = (s.server.address() as AddressInfo).port;
        state.port = port;
        state.url = `smtp://127.0.0.1:${port}`;
        resolve();
      });
    });
  }

  await listen(0);
  return state;
}
