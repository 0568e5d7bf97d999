/**
 * Shell completion scripts generated from the commander command tree (walked when the script
 * is asked for, so it lists every command registered, now and later). Pure apart from
 * `registerCompletionCommand`: tested in test/client/completion.unit.test.ts, and the bash
 * script with bash's own `complete`/`compgen`.
 */
import type { Command, Option } from 'commander';
import { examples } from './kit.ts';

export const shells = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof shells)[number];

/** One command of the tree: its path of canonical names, aliases, subcommands and options. */
export interface CommandNode {
  path: string[];
  aliases: string[];
  description: string;
  children: CommandNode[];
  options: Array<{ long?: string; short?: string; description: string; takesValue: boolean }>;
}

function optionsOf(command: Command) {
  const options = (command.options as readonly Option[]).map((o) => ({
    ...(o.long ? { long: o.long } : {}),
    ...(o.short ? { short: o.short } : {}),
    description: o.description,
    takesValue: o.required || o.optional,
  }));
  return [...options, { long: '--help', short: '-h', description: 'display help for command', takesValue: false }];
}

/** The tree under `command` (the program itself at the root). */
export function commandTree(command: Command, parent: string[] = []): CommandNode {
  const path = [...parent, command.name()];
  return {
    path,
    aliases: command.aliases(),
    description: command.description().split('\n')[0] ?? '',
    children: command.commands.map((c) => commandTree(c, path)),
    options: optionsOf(command),
  };
}

function* walk(node: CommandNode): Generator<CommandNode> {
  yield node;
  for (const child of node.children) yield* walk(child);
}

/** Single quotes for bash, zsh and fish ('it'\''s'). */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** fish quotes differently: a backslash escapes ' inside '…'. */
const fishQuote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Words to complete after `node`: its subcommands (and their aliases) and its options. */
function words(node: CommandNode, root: boolean): string[] {
  return [
    ...node.children.flatMap((c) => [c.path.at(-1)!, ...c.aliases]),
    ...(root && node.children.length ? ['help'] : []),
    ...node.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)),
  ];
}

function bash(tree: CommandNode): string {
  const name = tree.path[0]!;
  const nodes = [...walk(tree)];
  const steps = nodes
    .filter((n) => n !== tree)
    .map((n) => {
      const parent = n.path.slice(0, -1).join(' ');
      const keys = [n.path.at(-1)!, ...n.aliases].map((w) => quote(`${parent} ${w}`)).join('|');
      return `      ${keys}) cmdpath=${quote(n.path.join(' '))} ;;`;
    });
  const lists = nodes.map((n) => `    ${quote(n.path.join(' '))}) words=${quote(words(n, n === tree).join(' '))} ;;`);
  return `# ${name} completion for bash. Install: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
# (or: source <(${name} completion bash) in ~/.bashrc)
_${name}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath=${quote(name)} i words=''
  # The command path typed so far: each word that names a subcommand of the path before it.
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$cmdpath \${COMP_WORDS[i]}" in
${steps.join('\n')}
    esac
  done
  case "$cmdpath" in
${lists.join('\n')}
  esac
  if [[ $cur == -* ]] || [[ -n $words ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  fi
}
complete -o default -F _${name}_complete ${name}
`;
}

function zsh(tree: CommandNode): string {
  const name = tree.path[0]!;
  const nodes = [...walk(tree)];
  const esc = (s: string) => s.replace(/:/g, '\\:');
  const steps = nodes
    .filter((n) => n !== tree)
    .map((n) => {
      const parent = n.path.slice(0, -1).join(' ');
      const keys = [n.path.at(-1)!, ...n.aliases].map((w) => quote(`${parent} ${w}`)).join('|');
      return `      ${keys}) cmdpath=${quote(n.path.join(' '))} ;;`;
    });
  const lists = nodes.map((n) => {
    const commands = n.children.flatMap((c) =>
      [c.path.at(-1)!, ...c.aliases].map((w) => quote(`${esc(w)}:${c.description}`)),
    );
    if (n === tree && n.children.length) commands.push(quote('help:display help for a command'));
    const options = n.options.flatMap((o) =>
      [o.long, o.short].filter((f): f is string => f !== undefined).map((f) => quote(`${esc(f)}:${o.description}`)),
    );
    return `    ${quote(n.path.join(' '))}) commands=(${commands.join(' ')}); options=(${options.join(' ')}) ;;`;
  });
  return `#compdef ${name}
# ${name} completion for zsh. Install: ${name} completion zsh > "\${fpath[1]}/_${name}" (then compinit),
# or: source <(${name} completion zsh) in ~/.zshrc after compinit.
_${name}() {
  local cmdpath=${quote(name)} i
  local -a commands options
  for ((i = 2; i < CURRENT; i++)); do
    case "$cmdpath \${words[i]}" in
${steps.join('\n')}
    esac
  done
  case "$cmdpath" in
${lists.join('\n')}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    _describe -t options option options
  elif (( \${#commands} )); then
    _describe -t commands command commands
  else
    _files
  fi
}
compdef _${name} ${name}
`;
}

function fish(tree: CommandNode): string {
  const name = tree.path[0]!;
  const nodes = [...walk(tree)];
  const steps = nodes
    .filter((n) => n !== tree)
    .map((n) => {
      const parent = n.path.slice(0, -1).join(' ');
      const keys = [n.path.at(-1)!, ...n.aliases].map((w) => fishQuote(`${parent} ${w}`)).join(' ');
      return `      case ${keys}\n        set cmdpath ${fishQuote(n.path.join(' '))}`;
    });
  const lines: string[] = [];
  for (const n of nodes) {
    const at = `-n ${fishQuote(`test (__${name}_path) = ${fishQuote(n.path.join(' '))}`)}`;
    for (const c of n.children)
      for (const w of [c.path.at(-1)!, ...c.aliases])
        lines.push(`complete -c ${name} -f ${at} -a ${fishQuote(w)} -d ${fishQuote(c.description)}`);
    if (n === tree && n.children.length)
      lines.push(`complete -c ${name} -f ${at} -a help -d 'display help for a command'`);
    for (const o of n.options) {
      const flags = [o.long ? `-l ${o.long.slice(2)}` : '', o.short ? `-s ${o.short.slice(1)}` : '']
        .filter(Boolean)
        .join(' ');
      lines.push(`complete -c ${name} ${at} ${flags}${o.takesValue ? ' -r' : ''} -d ${fishQuote(o.description)}`);
    }
  }
  return `# ${name} completion for fish. Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish
function __${name}_path
  set -l cmdpath ${name}
  for w in (commandline -opc)[2..-1]
    switch "$cmdpath $w"
${steps.join('\n')}
    end
  end
  echo $cmdpath
end
${lines.join('\n')}
`;
}

/** The completion script for `shell` of the commands under `program`. */
export function completionScript(shell: Shell, program: Command): string {
  const tree = commandTree(program);
  return shell === 'bash' ? bash(tree) : shell === 'zsh' ? zsh(tree) : fish(tree);
}

/** `gasper completion bash|zsh|fish`. */
export function registerCompletionCommand(program: Command): void {
  const completion = program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .argument('<shell>', shells.join(', '))
    .action((shell: string) => {
      if (!(shells as readonly string[]).includes(shell)) {
        process.stderr.write(`gasper: no completion for "${shell}": one of ${shells.join(', ')}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(completionScript(shell as Shell, program));
    });
  examples(completion, [
    'gasper completion bash > ~/.local/share/bash-completion/completions/gasper',
    `gasper completion zsh > "\${fpath[1]}/_gasper"`,
    'gasper completion fish > ~/.config/fish/completions/gasper.fish',
  ]);
}
