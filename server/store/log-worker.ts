// The log writer thread (issue 12 §1, §2): every app's log writer (app-writer.ts) runs here, on one thread for
// the whole process (issue 14). A thread per app cost each app a V8 heap, its own JIT warm-up and a wake-up per
// hand-off: with 20 apps sharing a load, the writers used four times the CPU per request of one app's. Messages
// name their app by key; the apps' exchanges for one hand-off arrive in one message.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Exchange } from '../scim/types.js';
import { type AppWriter, type AppWriterData, type FromLogWorker, openAppWriter } from './app-writer.js';

export type { FromLogWorker, WorkerStats } from './app-writer.js';

export interface LogWorkerData {
  /** for synchronous calls: the worker adds 1 and notifies once an answer is on `reply` */
  signal: Int32Array;
  reply: MessagePort;
}

/** A synchronous call's answer on the reply port: `seq` tells it from a late answer to an earlier call. */
export interface LogWorkerReply {
  seq: number;
  value: unknown;
}

export type ToLogWorker =
  | { type: 'open'; key: number; data: AppWriterData }
  | { type: 'record'; batches: { key: number; exchanges: Exchange[] }[] }
  | { type: 'flush'; key: number; seq: number }
  | { type: 'stop'; key: number; deadlineMs: number; seq: number }
  | { type: 'closeStale'; key: number; now: number }
  | { type: 'pragma'; key: number; statement: string; seq: number };

const data = workerData as LogWorkerData;
const inbox = parentPort!;
const writers = new Map<number, AppWriter>();

/** Answer a synchronous call: the proxy's thread is blocked in Atomics.wait until the signal moves. */
function answer(seq: number, value: unknown): void {
  data.reply.postMessage({ seq, value } satisfies LogWorkerReply);
  Atomics.add(data.signal, 0, 1);
  Atomics.notify(data.signal, 0);
}

// Buffers cross threads as plain Uint8Arrays; classification reads them as Buffers.
const asBuffer = (b: Uint8Array | null) =>
  b === null || Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

function record(batches: { key: number; exchanges: Exchange[] }[]): void {
  for (const { key, exchanges } of batches) {
    const writer = writers.get(key);
    // An app that failed to open: the proxy's thread counted these as dropped already (it knows it failed).
    if (!writer) continue;
    for (const exchange of exchanges) {
      exchange.requestBody = asBuffer(exchange.requestBody);
      exchange.responseBody = asBuffer(exchange.responseBody);
      writer.record(exchange);
    }
  }
}

function open(key: number, app: AppWriterData): void {
  try {
    writers.set(key, openAppWriter(app));
    app.events.postMessage({ type: 'ready' } satisfies FromLogWorker);
  } catch (err) {
    // One app's database that cannot open costs that app its recording, not the others theirs.
    app.events.postMessage({
      type: 'failed',
      message: (err as Error)?.message ?? String(err),
    } satisfies FromLogWorker);
    app.events.close();
  }
}

inbox.on('message', (message: ToLogWorker) => {
  if (message.type === 'record') return record(message.batches);
  if (message.type === 'open') return open(message.key, message.data);
  const writer = writers.get(message.key);
  switch (message.type) {
    case 'flush':
      return answer(message.seq, writer?.flush());
    case 'closeStale':
      return writer?.closeStale(message.now);
    case 'pragma':
      return answer(message.seq, writer?.pragma(message.statement));
    case 'stop':
      writers.delete(message.key);
      return answer(message.seq, writer?.stop(message.deadlineMs));
  }
});
