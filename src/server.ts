/**
 * The process: load config, build the app, listen. Nothing else lives here.
 */
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  // quiet: dotenv must not print to stdout, which carries JSON log lines only.
  dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await buildApp(config);
  if (!config.twilioAuthToken) {
    app.log.warn('TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked (set it in production)');
  }
  await app.listen({ host: config.host, port: config.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`voice-bridge failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
