#!/usr/bin/env node
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
if (code !== null) {
  process.exitCode = code;
  // A cluster worker's IPC channel keeps it alive (and disconnecting would exit 0): a worker that could
  // not start must end, with its code, so the supervisor replaces it.
  if (process.connected) process.exit(code);
}
