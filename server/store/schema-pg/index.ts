export * from './cycles.js';
export * from './identities.js';
export * from './incidents.js';
export * from './operations.js';
export * from './outbox.js';
