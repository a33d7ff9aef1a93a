import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { isOwnBody } from '../proxy/tap.js';
import type { Exchange } from '../scim/types.js';
import type { LogWorkerData, LogWorkerReply, ToLogWorker } from './log-worker.js';

// The proxy's side of the log writer thread (log-worker.ts), shared by every app's LogThread (log-thread.ts): the
// thread, one hand-off timer for all apps, the synchronous calls, and the news of the thread's death. One thread
// for all apps: a thread each cost 20 apps four times one app's CPU per request (bench/apps.ts).

/** What the host asks of each app's LogThread. */
export interface HostedApp {
  /** the exchanges waiting to be handed over, taken (the app's pending list is emptied); null: none */
  take(): Exchange[] | null;
  /** the thread is gone, whatever the cause */
  died(reason: string): void;
}

export interface LogHost {
  /** registers `app` under a new key; the caller then posts its `open` message */
  attach(app: HostedApp): number;
  /** the app stopped: its exchanges are no longer taken */
  detach(key: number): void;
  /** hand every app's waiting exchanges to the thread, in one message */
  handOff(): void;
  post(message: ToLogWorker, transfer?: MessagePort[]): void;
  /**
   * Hand off, post the message `build` makes with a fresh sequence number, and block until the thread answers it
   * (or `timeoutMs` passes: undefined). Run `drain` before returning, so what the thread said first is heard first.
   */
  call(build: (seq: number) => ToLogWorker, timeoutMs: number, drain: () => void): unknown;
  /** why the thread is gone; null while it runs */
  dead(): string | null;
  /** ends the thread; call once every app has stopped */
  close(): Promise<void>;
}

/** Handed over at once past this many for one app, so one message never carries an unbounded backlog. */
export const handoffBatch = 512;

export function createLogHost({ handoffMs = 10 }: { handoffMs?: number } = {}): LogHost {
  const apps = new Map<number, HostedApp>();
  let nextKey = 1;
  let nextSeq = 1;
  let dead: string | null = null;
  let thread: ReturnType<typeof spawnThread> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const died = (reason: string) => {
    // An error is followed by the exit: the apps hear of the first.
    if (dead) return;
    dead = reason;
    clearInterval(timer);
    for (const app of apps.values()) app.died(dead);
  };
  // Started with the first app: an in-memory scimtap never needs the thread, nor the hand-off timer.
  const started = () => {
    if (thread) return thread;
    thread = spawnThread(died);
    timer = setInterval(() => handOff(), handoffMs);
    timer.unref();
    return thread;
  };

  function handOff(): void {
    if (dead || !thread) return;
    const batches: { key: number; exchanges: Exchange[] }[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const [key, app] of apps) {
      const exchanges = app.take();
      if (!exchanges) continue;
      ownBodies(exchanges, transfer);
      batches.push({ key, exchanges });
    }
    if (batches.length > 0)
      thread.worker.postMessage({ type: 'record', batches } satisfies ToLogWorker, transfer);
  }

  return {
    attach(app) {
      started();
      const key = nextKey++;
      apps.set(key, app);
      if (dead) app.died(dead);
      return key;
    },
    detach: (key) => apps.delete(key),
    handOff,
    post(message, transfer = []) {
      if (!dead) started().worker.postMessage(message, transfer);
    },
    call(build, timeoutMs, drain) {
      if (dead) return undefined;
      handOff();
      const { worker, signal, reply } = started();
      const seq = nextSeq++;
      let seen = Atomics.load(signal, 0);
      worker.postMessage(build(seq));
      const deadline = Date.now() + timeoutMs;
      // An answer to an earlier call that timed out may come first: it is read and set aside.
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0 || Atomics.wait(signal, 0, seen, left) === 'timed-out') return undefined;
        seen = Atomics.load(signal, 0);
        for (let m = receiveMessageOnPort(reply); m; m = receiveMessageOnPort(reply)) {
          const answer = m.message as LogWorkerReply;
          if (answer.seq !== seq) continue;
          drain();
          return answer.value;
        }
      }
    },
    dead: () => dead,
    async close() {
      clearInterval(timer);
      apps.clear();
      dead ??= 'the log writer thread was closed';
      if (thread) await thread.worker.terminate();
    },
  };
}

/** The thread and this side's ends of what it shares with it. `onDeath` hears of its end, whatever the cause. */
function spawnThread(onDeath: (reason: string) => void) {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1: reply, port2: workerReply } = new MessageChannel();
  const worker = spawnWorker({ signal, reply: workerReply }, [workerReply]);
  worker.unref();
  worker.on('error', (err) => onDeath(err.message));
  worker.on('exit', (code) => onDeath(`the log writer thread exited (${code})`));
  return { worker, signal, reply };
}

/**
 * A captured body is usually a view into a larger shared buffer (a socket read, Buffer's 8 KB pool), and a
 * message copies a view's whole buffer. The bodies of one hand-off are copied into one buffer of their own, which
 * is moved, not copied: the exchanges carry views into it (a message keeps views of a moved buffer as views).
 * One buffer per hand-off rather than one per body: each ArrayBuffer costs an allocation, a detach on this side
 * and a backing store for the collector to track on the other, per exchange (issue 12).
 */
function ownBodies(exchanges: Exchange[], transfer: ArrayBuffer[]): void {
  let total = 0;
  for (const e of exchanges) total += packedLength(e.requestBody) + packedLength(e.responseBody);
  const pack = total > 0 ? Buffer.allocUnsafeSlow(total) : null;
  let at = 0;
  const own = (body: Buffer | null): Buffer | null => {
    if (body === null) return null;
    // A body the proxy's tap joined from several chunks is already alone in its buffer: moved, not copied twice.
    if (isOwnBody(body)) {
      transfer.push(body.buffer as ArrayBuffer);
      return body;
    }
    pack!.set(body, at);
    at += body.byteLength;
    return pack!.subarray(at - body.byteLength, at);
  };
  for (const e of exchanges) {
    e.requestBody = own(e.requestBody);
    e.responseBody = own(e.responseBody);
  }
  if (pack) transfer.push(pack.buffer as ArrayBuffer);
}

/** The bytes `body` takes in the hand-off's shared buffer: none when it moves alone. */
function packedLength(body: Buffer | null): number {
  return body === null || isOwnBody(body) ? 0 : body.byteLength;
}

/**
 * The worker runs the compiled log-worker.js beside this file when running the build (dist/). From the
 * TypeScript sources (vitest, `npm run dev`, the benchmarks) it registers tsx in the new thread first: on Node 20
 * a worker does not inherit the loader hooks of its parent, nor accept `--import` in its execArgv.
 */
function spawnWorker(workerData: LogWorkerData, transferList: MessagePort[]): Worker {
  const js = new URL('./log-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, transferList });
  const ts = new URL('./log-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData, transferList });
}
