import { parseArgs } from 'node:util';
import { checkConfigCommand } from './commands/check-config.js';
import { clerkTokenCommand } from './commands/clerk-token.js';
import { devTokenCommand } from './commands/dev-token.js';
import { inspectCommand } from './commands/inspect.js';
import { requestCommand } from './commands/request.js';
import { serveCommand } from './commands/serve.js';
import type { CliContext, Command } from './context.js';

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  'dev-token': devTokenCommand,
  request: requestCommand,
  'clerk-token': clerkTokenCommand,
  inspect: inspectCommand,
  'check-config': checkConfigCommand,
};

function usage(): string {
  const lines = [
    'Usage: stream-token-service <command> [options]',
    '',
    "Exchanges an identity provider's session token for a Stream Chat user token.",
    '',
    'Commands:',
  ];
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)}${command.summary}`);
  lines.push('', "Run `stream-token-service <command> --help` for a command's options.", '');
  return lines.join('\n');
}

/**
 * Runs one command. Returns the exit code, or null for a command that keeps
 * the process alive (serve) and sets the code itself when it ends.
 */
export async function runCli(argv: string[], context: CliContext): Promise<number | null> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    context.stdout(usage());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    context.stderr(`Unknown command "${name}".\n\n${usage()}`);
    return 1;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    context.stderr(`${(err as Error).message}\n\n${command.usage}\n`);
    return 1;
  }
  if (parsed.values.help === true) {
    context.stdout(`${command.usage}\n`);
    return 0;
  }
  return command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals, context);
}
