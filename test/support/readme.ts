/**
 * The README as data: its fenced code blocks (language, text, line) and the commands a user would type from them, so
 * a test runs what the README prints and the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';

export const README_URL = new URL('../../README.md', import.meta.url);

export interface CodeBlock {
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}

export function readmeText(): string {
  return readFileSync(README_URL, 'utf8');
}

export function codeBlocks(markdown = readmeText()): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, text: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

/** The shell commands of the `sh` blocks, a `\`-continued line joined as the shell would, comments dropped. */
export function shellCommands(markdown = readmeText()): { command: string; line: number }[] {
  const out: { command: string; line: number }[] = [];
  for (const b of codeBlocks(markdown).filter((x) => x.lang === 'sh')) {
    const lines = b.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = b.line + 1 + i;
      let command = lines[i]!;
      while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)}${lines[++i]!}`;
      command = command.replace(/\s+#.*$/, '').trim();
      if (command) out.push({ command, line });
    }
  }
  return out;
}

/** Every `npm run …` the README shows, in code blocks and inline code (the tools table, the prose), as printed. */
export function npmRunCommands(markdown = readmeText()): string[] {
  const found = new Set<string>();
  for (const { command } of shellCommands(markdown)) {
    for (const part of command.split('&&')) if (/^\s*npm run /.test(part)) found.add(part.trim());
  }
  for (const m of markdown.matchAll(/`(npm run [^`]+)`/g)) found.add(m[1]!.replace(/\\\|/g, '|').trim());
  return [...found];
}

/** The `json` blocks, with a README's elisions (`,…` in a list or object) removed so they parse. */
export function jsonBlocks(markdown = readmeText()): { value: unknown; line: number }[] {
  return codeBlocks(markdown)
    .filter((b) => b.lang === 'json')
    .map((b) => ({ value: JSON.parse(b.text.replace(/,\s*…/g, '')), line: b.line }));
}

/** The first code block after a heading (e.g. `### Bring your own history`): a flow the README prints as one. */
export function blockAfter(heading: string, markdown = readmeText()): CodeBlock {
  const at = markdown.split('\n').findIndex((l) => l.trim() === heading);
  const block = codeBlocks(markdown).find((b) => b.line > at + 1);
  if (at < 0 || !block) throw new Error(`README has no code block after ${heading}`);
  return block;
}

/** The 1-based lines a block's commands are on (its body, between the fences). */
export const blockLines = (b: CodeBlock): [number, number] => [b.line + 1, b.line + b.text.split('\n').length];
