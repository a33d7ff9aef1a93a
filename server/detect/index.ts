export * from './rules.js';
export * from './tracker.js';
export * from './types.js';
