/**
 * The guides show the examples' code, not a copy that can drift: every code
 * block in a guide starts with the path of a file of its example, and is that
 * file, byte for byte. CI compiles the files (examples.test.ts), so it
 * compiles what the guides show.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLES_DIR } from '../support/examples.js';
import { PROJECT_ROOT } from '../support/process.js';

const GUIDES = [
  { guide: 'docs/react-web.md', example: 'react-web' },
  { guide: 'docs/react-native.md', example: 'react-native' },
  { guide: 'docs/flutter.md', example: 'flutter' },
];
/** Blocks in these languages are code; shell lines, env files and diffs are not checked. */
const CODE = new Set(['ts', 'tsx', 'js', 'jsx', 'mjs', 'dart', 'yaml', 'yml', 'json', 'css', 'html']);

interface Block {
  lang: string;
  body: string;
  line: number;
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end += 1;
    blocks.push({ lang: open[1] ?? '', body: `${lines.slice(start + 1, end).join('\n')}\n`, line: start + 1 });
    i = end;
  }
  return blocks;
}

describe('guides show the examples', () => {
  for (const { guide, example } of GUIDES) {
    it(`every code block of ${guide} is a file of examples/${example}`, () => {
      const blocks = codeBlocks(readFileSync(join(PROJECT_ROOT, guide), 'utf8')).filter((b) => CODE.has(b.lang));
      assert.ok(blocks.length >= 3, `${guide} shows its example's code (${blocks.length} code blocks)`);
      for (const block of blocks) {
        const named = /^(?:\/\/|#) ([\w./[\]-]+)$/.exec(block.body.split('\n')[0] ?? '');
        assert.ok(named, `${guide}:${block.line}: a ${block.lang} block starts with the path of its file in examples/${example}`);
        const file = join(EXAMPLES_DIR, example, named[1] as string);
        assert.ok(existsSync(file), `${guide}:${block.line}: examples/${example}/${named[1]} exists`);
        assert.equal(block.body, readFileSync(file, 'utf8'), `${guide}:${block.line}: the block is examples/${example}/${named[1]} as it is`);
      }
    });
  }
});
