import { describeVerifyBreak, parseExpectedHead } from '../../audit/core/chain.js';
import { QuenchError } from '../../core/errors.js';
import { type Command, parseOptions, withContext } from '../command.js';

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  summary: 'walk the audit hash chain; exit 0 intact, 1 with the first broken entry',
  help: `Usage: quench audit verify [--expect SEQ:HASH]... [--quiet]

Reads the whole audit trail in sequence order (streaming, constant memory), recomputing each
entry's hash and checking its link to the previous entry. With QUENCH_AUDIT_KEY set, entries
from the keying marker on are checked as HMAC-SHA256 links with that key.

Options:
  --expect SEQ:HASH  a head recorded elsewhere (the "audit head" log line the service publishes,
                     or an earlier run of this command): entry SEQ must still exist and have
                     HASH. Repeat for several recorded heads.
  --quiet, -q        no progress lines on stderr

Exit 0: intact (prints the number of entries and the head to record). Exit 1: names the first
broken entry and why (hash mismatch, gap, broken link, written without the key, differs from
or ends before a recorded head). Exit 2: a malformed --expect.`,
  async run(args, io) {
    const { values } = parseOptions(args, {
      quiet: { type: 'boolean', short: 'q' },
      expect: { type: 'string', multiple: true },
    });
    const expected = new Map<number, string>();
    for (const text of values.expect ?? []) {
      const parsed = parseExpectedHead(text);
      if ('error' in parsed) throw new QuenchError('usage', `--expect: ${parsed.error}`);
      if (expected.has(parsed.seq) && expected.get(parsed.seq) !== parsed.hash) {
        throw new QuenchError('usage', `--expect: two different hashes given for entry ${parsed.seq}`);
      }
      expected.set(parsed.seq, parsed.hash);
    }
    return withContext(io, async (ctx) => {
      let lastReport = Date.now();
      const result = await ctx.audit.verify({
        expected,
        onProgress: (checked) => {
          if (!values.quiet && Date.now() - lastReport > 2000) {
            lastReport = Date.now();
            io.stderr(`checked ${checked} entries…\n`);
          }
        },
      });
      if (result.ok) {
        const head = result.count ? `, head ${result.lastSeq}:${result.lastHash}` : '';
        const keyed = result.keyedSince === null ? '' : `, HMAC-keyed since entry ${result.keyedSince}`;
        const matched = expected.size ? `, ${expected.size} recorded head(s) matched` : '';
        io.stdout(`audit trail intact: ${result.count} entries${head}${keyed}${matched}\n`);
        return 0;
      }
      io.stderr(
        `audit trail BROKEN at sequence ${result.broken.seq}: ${describeVerifyBreak(result.broken)} (${result.count} entries before it verified)\n`,
      );
      return 1;
    });
  },
};
