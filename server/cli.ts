import { ConfigError, configHelp, loadConfig } from './config.js';
import { startScimtap } from './main.js';

const usage = `scimtap — a sidecar proxy that records, explains and warns about SCIM provisioning

Usage:
  scimtap [options]            forward to SCIMTAP_UPSTREAM (without it: demo mode)
  scimtap --help

${configHelp}
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scimtap: ${err.message}\n\nRun scimtap --help for the options.\n`);
      return 2;
    }
    throw err;
  }
  if (config.mode === 'demo') {
    process.stderr.write(
      'scimtap: SCIMTAP_UPSTREAM is not set. Point it at your SCIM endpoint, e.g.\n' +
        '  SCIMTAP_UPSTREAM=https://tenant.example.com/scim/v2 npm start\n',
    );
    return 2;
  }
  const scimtap = await startScimtap(config);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      scimtap.logger.info({ signal }, 'stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      scimtap.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`scimtap: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
