import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { pino } from 'pino';
import { isoTimeField, TurnBufferedLines, type LineWriter } from '../../src/http/logging.js';
import { PROJECT_ROOT } from '../support/process.js';

class RecordingWriter implements LineWriter {
  readonly writes: string[] = [];
  readonly calls: string[] = [];
  write(text: string): void {
    this.writes.push(text);
    this.calls.push('write');
  }
  flushSync(): void {
    this.calls.push('flushSync');
  }
  writeSync(text: string): void {
    this.writes.push(text);
    this.calls.push('writeSync');
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('lines written in one turn reach the writer together, in order, once the turn is over', async () => {
  const writer = new RecordingWriter();
  const lines = new TurnBufferedLines(writer);
  lines.write('{"n":1}\n');
  lines.write('{"n":2}\n');
  lines.write('{"n":3}\n');
  assert.deepEqual(writer.writes, [], 'nothing is written before the turn ends');
  await nextTurn();
  assert.deepEqual(writer.writes, ['{"n":1}\n{"n":2}\n{"n":3}\n']);

  lines.write('{"n":4}\n');
  await nextTurn();
  assert.deepEqual(writer.writes, ['{"n":1}\n{"n":2}\n{"n":3}\n', '{"n":4}\n'], 'a later turn gets its own write');
  await nextTurn();
  assert.equal(writer.writes.length, 2, 'an idle turn writes nothing');
});

test('flushSync writes what the writer had queued, then the pending lines, both synchronously', async () => {
  const writer = new RecordingWriter();
  const lines = new TurnBufferedLines(writer);
  lines.write('{"n":1}\n');
  lines.flushSync();
  assert.deepEqual(writer.calls, ['flushSync', 'writeSync']);
  assert.deepEqual(writer.writes, ['{"n":1}\n']);
  await nextTurn();
  assert.deepEqual(writer.writes, ['{"n":1}\n'], 'nothing is written twice');
});

test('a writer that throws (closed output) does not take the process down', async () => {
  const lines = new TurnBufferedLines({
    write: () => {
      throw new Error('SonicBoom destroyed');
    },
    flushSync: () => {
      throw new Error('SonicBoom destroyed');
    },
    writeSync: () => {
      throw new Error('EBADF');
    },
  });
  lines.write('{"n":1}\n');
  await nextTurn();
  lines.write('{"n":2}\n');
  lines.flushSync();
});

test('a process that exits in the same turn as it logs still prints the line', async () => {
  // process.exit() right after logging: no later turn runs, so only the exit hook can write the line.
  const logging = pathToFileURL(`${PROJECT_ROOT}src/http/logging.ts`).href;
  const script = `
    import { createLogger, standardOutput } from ${JSON.stringify(logging)};
    const log = createLogger({ level: 'info', destination: standardOutput() });
    for (let i = 0; i < 3; i++) log.info({ i }, 'before exit');
    process.exit(0);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT });
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; i: number });
  assert.deepEqual(
    lines.map((line) => [line.msg, line.i]),
    [
      ['before exit', 0],
      ['before exit', 1],
      ['before exit', 2],
    ],
  );
});

test("the time field is pino's isoTime for every millisecond, also when many lines share one", () => {
  const realNow = Date.now;
  try {
    for (const ms of [0, 1, 1, 999, 1_000, 1_779_999_999_999, 1_780_000_000_000, 1_780_000_000_000, 1_780_000_000_001]) {
      Date.now = () => ms;
      assert.equal(isoTimeField(), pino.stdTimeFunctions.isoTime(), `at ${ms}`);
    }
  } finally {
    Date.now = realNow;
  }
});
