import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Command } from 'commander';
import { commandTree, completionScript, type CommandNode } from '../../src/client/completion.ts';
import { buildProgram } from '../../src/program.ts';

function* walk(node: CommandNode): Generator<CommandNode> {
  yield node;
  for (const child of node.children) yield* walk(child);
}

/** Every command of the real tree (`gasper apps create`, …), with the commander object. */
function* commands(command: Command, parent: string[] = []): Generator<[string[], Command]> {
  const at = [...parent, command.name()];
  yield [at, command];
  for (const child of command.commands) yield* commands(child, at);
}

/** Runs `script` with bash and prints what completing `line` (the cursor at its end) offers. */
async function bashComplete(script: string, line: string): Promise<string[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-completion-'));
  try {
    const file = path.join(dir, 'gasper.bash');
    await fs.writeFile(file, script);
    // What bash does on Tab: COMP_WORDS/COMP_CWORD set, then the function `complete -p` names.
    const words = line.split(' ');
    const driver = [
      `source ${file}`,
      `fn=$(complete -p gasper | sed -E 's/.* -F ([^ ]+) .*/\\1/')`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '"$fn"',
      `printf "%s\\n" "\${COMPREPLY[@]}"`,
    ].join('\n');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['--norc', '--noprofile', '-c', driver], (err, out, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
      ),
    );
    return stdout.split('\n').filter(Boolean).sort();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('gasper completion (generated from the command tree)', () => {
  const program = buildProgram();
  const tree = commandTree(program);
  const scripts = {
    bash: completionScript('bash', program),
    zsh: completionScript('zsh', program),
    fish: completionScript('fish', program),
  };

  it('walks the whole tree: every command, alias and option of the program', () => {
    const paths = [...walk(tree)].map((n) => n.path.join(' '));
    for (const [at] of commands(program)) expect(paths).to.include(at.join(' '));
    expect(paths).to.include.members([
      'gasper apps create',
      'gasper databases link',
      'gasper env set',
      'gasper keys add',
    ]);
    const databases = tree.children.find((c) => c.path.at(-1) === 'databases')!;
    expect(databases.aliases).to.deep.equal(['db']);
  });

  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    it(`names every command (and alias) and every option in the ${shell} script`, () => {
      const script = scripts[shell];
      for (const node of walk(tree)) {
        if (node === tree) continue;
        const parent = node.path.slice(0, -1).join(' ');
        for (const word of [node.path.at(-1)!, ...node.aliases]) {
          // A step from the parent's path to this command's, as each shell spells it.
          expect(script, `${shell}: ${parent} ${word}`).to.include(`'${parent} ${word}'`);
        }
        expect(script, `${shell}: ${node.path.join(' ')} listed`).to.include(`'${node.path.join(' ')}'`);
        for (const o of node.options)
          if (o.long)
            expect(script, `${shell}: ${node.path.join(' ')} ${o.long}`).to.include(
              shell === 'fish' ? `-l ${o.long.slice(2)}` : o.long,
            );
      }
    });
  }

  it('the bash script completes with bash itself: subcommands, aliases, options, nested paths', async () => {
    expect(await bashComplete(scripts.bash, 'gasper data')).to.deep.equal(['databases']);
    expect(await bashComplete(scripts.bash, 'gasper db l')).to.deep.equal(['link', 'list', 'ls']);
    expect(await bashComplete(scripts.bash, 'gasper apps create web --r')).to.deep.equal([
      '--repo',
      '--run',
      '--runtime',
    ]);
    expect(await bashComplete(scripts.bash, 'gasper --json env ')).to.include.members(['get', 'set', 'unset']);
  });

  it('the zsh and fish scripts parse (zsh -n, fish -n), and fish completes with them, when those shells are installed', async () => {
    for (const shell of ['zsh', 'fish'] as const) {
      const found = await new Promise<boolean>((r) => execFile('sh', ['-c', `command -v ${shell}`], (err) => r(!err)));
      if (!found) continue;
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-completion-'));
      const file = path.join(dir, `gasper.${shell}`);
      await fs.writeFile(file, scripts[shell]);
      await new Promise<void>((resolve, reject) =>
        execFile(shell, ['-n', file], (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())),
      );
      if (shell === 'fish') {
        // fish completes a command line itself (`complete -C`): the same answers as bash's.
        const offered = await new Promise<string>((resolve, reject) =>
          execFile('fish', ['-c', `source ${file}; complete -C 'gasper db l'`], (err, out, stderr) =>
            err ? reject(new Error(stderr)) : resolve(out),
          ),
        );
        expect(
          offered
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split('\t')[0])
            .sort(),
        ).to.deep.equal(['link', 'list', 'ls']);
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('gasper --help (every command says what it does, with examples)', () => {
  const program = buildProgram();
  for (const [at, command] of commands(program)) {
    it(`${at.join(' ')}: a one-line description${command.commands.length ? '' : ' and examples'}`, () => {
      expect(command.description(), 'description').to.match(/^\S.*$/);
      // Leaf commands (what a user runs) show examples; groups list their subcommands.
      if (!command.commands.length) {
        let help = '';
        command.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
        command.outputHelp();
        expect(help).to.match(/\nExamples:\n {2}\$ (\w+=\S+ )*gasper /);
      }
    });
  }
});
