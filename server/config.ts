// The configuration's public surface; the parts live in server/config/: schema.ts (what is valid), sources.ts
// (environment variables, flags, --help), problems.ts (how a problem is told), load.ts (merging and checks).
// The only reader of process.env (STYLE.md §1). Everything else receives the Config.

export { adminBaseUrl, isLoopback, loadConfig } from './config/load.js';
export { nearest } from './config/nearest.js';
export { ConfigError } from './config/problems.js';
export {
  type Command,
  type Config,
  DEMO_APP_NAME,
  defaultDbPath,
  type HostPort,
  pagerDutyEventsUrl,
  type ReceiverConfig,
  type ReceiverType,
  type RulesConfig,
  receiverSchema,
  rulesSchema,
} from './config/schema.js';
export { configHelp } from './config/sources.js';
export {
  describeStore,
  isPostgresUrl,
  redactUrl,
  type StoreConfig,
  storeFromSetting,
  unavailableStore,
} from './config/store.js';
