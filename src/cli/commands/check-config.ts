import { describeConfig, misspeltVariables, readEnvironment } from '../../config/index.js';
import { loadCliConfig, type Command } from '../context.js';

export const checkConfigCommand: Command = {
  summary: 'Validate the configuration and print it without secrets',
  usage: [
    'Usage: stream-token-service check-config [--dev]',
    '',
    'Reads the environment and .env exactly as `serve` does, validates every variable, and prints',
    'the resolved configuration as JSON with secrets shown only as "set" or "not set".',
    'Exits 2 and lists every problem with its fix when the configuration is invalid.',
    'Warns about a variable that is set but not read, when it is one or two letters from one that is.',
    '',
    'Options:',
    '  --dev       check as dev mode (like DEV_MODE=true)',
    '  -h, --help  show this help',
  ].join('\n'),
  options: { dev: { type: 'boolean' } },
  async run(values, _positionals, context) {
    for (const { name, meant } of misspeltVariables(readEnvironment({ processEnv: context.env, cwd: context.cwd }))) {
      context.stderr(`warning: ${name} is set but not read; did you mean ${meant}?\n`);
    }
    const config = loadCliConfig(context, { devMode: values.dev === true });
    if (typeof config === 'number') return config;
    const described = describeConfig(config);
    context.stdout(`${JSON.stringify(described, null, 2)}\n`);
    for (const warning of described.warnings as string[]) context.stderr(`warning: ${warning}\n`);
    return 0;
  },
};
