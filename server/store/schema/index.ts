export * from './operations.js';
export * from './cycles.js';
export * from './identities.js';
