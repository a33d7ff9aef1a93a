import nodemailer from 'nodemailer';
import { createScrubber } from '../scim/scrub.js';

export interface OutgoingEmail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** `<...@...>`, fixed per outbox row */
  messageId: string;
  /** the incident's first email: later ones thread under it */
  inReplyTo?: string;
}

export type SendResult =
  | { ok: true; response: string; responseCode: number | null }
  | { ok: false; retryable: boolean; error: string; responseCode: number | null };

/** Sends one email and says whether a failure is worth retrying (STYLE §7). Never throws. */
export interface Sender {
  send(mail: OutgoingEmail): Promise<SendResult>;
  close(): void;
}

// Without an SMTP reply code, these mean the message or the configuration is wrong: retrying changes nothing.
const permanentCodes = new Set([
  'EENVELOPE',
  'EMESSAGE',
  'ECONFIG',
  'EAUTH',
  'ENOAUTH',
  'EREQUIRETLS',
  'EMAXRECIPIENTS',
]);

/**
 * SMTP reply codes decide when there is one: 4xx is transient (greylisting, mailbox busy, 421 service not
 * available), 5xx is permanent (550 no such user, 535 bad credentials). Without one, network trouble (refused,
 * reset, timeout, DNS, TLS) is retried and a malformed message or configuration is not.
 */
export function isRetryable(err: { code?: unknown; responseCode?: unknown }): boolean {
  const reply = typeof err.responseCode === 'number' ? err.responseCode : null;
  if (reply !== null && reply >= 400 && reply < 600) return reply < 500;
  return !(typeof err.code === 'string' && permanentCodes.has(err.code));
}

export interface SmtpSenderOptions {
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

/** nodemailer over SCIMTAP_SMTP_URL (`smtp://user:pass@host:587`, `smtps://...`); one connection per email. */
export function createSmtpSender(
  url: string,
  { connectionTimeoutMs = 10_000, socketTimeoutMs = 30_000 }: SmtpSenderOptions = {},
): Sender {
  // A server may echo the login it refused ("535 bad credentials for user:pass", or the AUTH line in base64):
  // its words go to the outbox, the API and the logs, so the URL's credentials are scrubbed from them first.
  const scrub = createScrubber(smtpSecrets(url));
  const transport = nodemailer.createTransport({
    url,
    connectionTimeout: connectionTimeoutMs,
    greetingTimeout: connectionTimeoutMs,
    socketTimeout: socketTimeoutMs,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          messageId: mail.messageId,
          ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo, references: [mail.inReplyTo] } : {}),
          headers: { 'Auto-Submitted': 'auto-generated', 'X-Mailer': 'scimtap' },
        });
        const response = scrub(String((info as { response?: unknown }).response ?? ''));
        const code = /^(\d{3})/.exec(response);
        return { ok: true, response, responseCode: code ? Number(code[1]) : null };
      } catch (err) {
        const e = err as { code?: unknown; responseCode?: unknown; message?: string };
        return {
          ok: false,
          retryable: isRetryable(e),
          error: scrub(
            [typeof e.code === 'string' ? e.code : null, e.message ?? String(err)].filter(Boolean).join(': '),
          ),
          responseCode: typeof e.responseCode === 'number' ? e.responseCode : null,
        };
      }
    },
    close() {
      transport.close();
    },
  };
}

/**
 * The credentials of an SMTP URL as a server could echo them: the user, the password, `user:password`, the AUTH
 * PLAIN string (base64 forms are the scrubber's), both as written in the URL and decoded.
 */
export function smtpSecrets(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const out = new Set<string>();
  for (const [user, pass] of [
    [u.username, u.password],
    [decode(u.username), decode(u.password)],
  ]) {
    for (const s of [user, pass]) if (s) out.add(s);
    if (user && pass) {
      out.add(`${user}:${pass}`);
      out.add(`\u0000${user}\u0000${pass}`);
    }
  }
  return [...out];
}
