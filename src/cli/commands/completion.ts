import { QuenchError } from '../../core/errors.js';
import { type Command, parseOptions } from '../command.js';
import { bashCompletion, zshCompletion } from '../completion.js';

/** `quench completion bash|zsh`; the table is passed lazily because it lists this command too. */
export function completionCommand(table: () => Command[]): Command {
  return {
    path: ['completion'],
    summary: 'print the shell completion script for bash or zsh',
    argumentWords: ['bash', 'zsh'],
    help: `Usage: quench completion bash|zsh

Prints a completion script for the command words and their options.
  bash: source <(quench completion bash)      (e.g. in ~/.bashrc)
  zsh:  source <(quench completion zsh)       (after compinit, e.g. in ~/.zshrc)`,
    async run(args, io) {
      const { positionals } = parseOptions(args, {}, true);
      const [shell, ...rest] = positionals;
      if (rest.length > 0 || (shell !== 'bash' && shell !== 'zsh')) throw new QuenchError('usage', 'expected bash or zsh');
      io.stdout(shell === 'bash' ? bashCompletion(table()) : zshCompletion(table()));
      return 0;
    },
  };
}
