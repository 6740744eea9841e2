import { describeBreak } from '../../audit/core/entry.js';
import { type Command, parseOptions, withContext } from '../command.js';

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  summary: 'walk the audit hash chain; exit 0 intact, 1 with the first broken entry',
  help: `Usage: quench audit verify [--quiet]

Reads the whole audit trail in sequence order (streaming, constant memory), recomputing each
entry's SHA-256 hash and checking its link to the previous entry.
Exit 0: intact (prints the number of entries). Exit 1: names the first broken entry and
why (hash mismatch, gap in the sequence, broken link).`,
  async run(args, io) {
    const { values } = parseOptions(args, { quiet: { type: 'boolean', short: 'q' } });
    return withContext(io, async (ctx) => {
      let lastReport = Date.now();
      const result = await ctx.audit.verify({
        onProgress: (checked) => {
          if (!values.quiet && Date.now() - lastReport > 2000) {
            lastReport = Date.now();
            io.stderr(`checked ${checked} entries…\n`);
          }
        },
      });
      if (result.ok) {
        io.stdout(`audit trail intact: ${result.count} entries${result.count ? `, head ${result.lastSeq} ${result.lastHash}` : ''}\n`);
        return 0;
      }
      io.stderr(
        `audit trail BROKEN at sequence ${result.broken.seq}: ${describeBreak(result.broken)} (${result.count} entries before it verified)\n`,
      );
      return 1;
    });
  },
};
