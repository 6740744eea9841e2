import { parseExpectedHead } from '../../audit/core/chain.js';
import { type VerifyReport, verifyReport, verifyText } from '../../audit/verify-report.js';
import { asQuenchError, QuenchError } from '../../core/errors.js';
import { withBackend } from '../backend.js';
import { type CliIO, type Command, parseOptions } from '../command.js';

/**
 * Exit 1 is a verdict (the trail is broken) and scripts alert on it as tampering; an outage or
 * any other error is no verdict and must not pass for one, so it is 2, as for `gate check`.
 */
const EXIT_INTACT = 0;
const EXIT_BROKEN = 1;
const EXIT_NO_VERDICT = 2;

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  summary: 'walk the audit hash chain; exit 0 intact, 1 with the first broken entry, 2 error (no verdict)',
  help: `Usage: quench audit verify [--expect SEQ:HASH]... [--quiet] [--json]

Reads the whole audit trail in sequence order (streaming, constant memory), recomputing each
entry's hash and checking its link to the previous entry. With QUENCH_AUDIT_KEY set, entries
from the keying marker on are checked as HMAC-SHA256 links with that key.
Beside a running 'quench serve' on the embedded database (or with QUENCH_URL set) the service
walks the chain (GET /v1/audit/verify, with its own QUENCH_AUDIT_KEY).

Options:
  --expect SEQ:HASH  a head recorded elsewhere (the "audit head" log line the service publishes,
                     or an earlier run of this command): entry SEQ must still exist and have
                     HASH. Repeat for several recorded heads.
  --quiet, -q        no progress lines on stderr
  --json             {"ok":true,"count","head":{"seq","hash"}|null,"keyedSince","expectedMatched"}
                     or {"ok":false,"count","broken":{"seq","kind","message"}} on stdout

Exit 0: intact (prints the number of entries and the head to record). Exit 1: names the first
broken entry and why (hash mismatch, gap, broken link, written without the key, differs from
or ends before a recorded head). Exit 2: no verdict, the trail was not walked to the end: the
database or the service cannot be reached or failed during the walk, a refused token, a bad
setting, or a malformed --expect (the reason on stderr; run it again once that is fixed).`,
  async run(args, io) {
    try {
      return await verify(args, io);
    } catch (err) {
      const error = asQuenchError(err);
      if (error.code === 'usage') io.stderr(`quench audit verify: ${error.message}\nRun 'quench audit verify --help' for usage.\n`);
      else io.stderr(`quench audit verify: could not verify the audit trail (no verdict, exit 2): ${error.message}\n`);
      return EXIT_NO_VERDICT;
    }
  },
};

async function verify(args: string[], io: CliIO): Promise<number> {
  const { values } = parseOptions(args, {
    quiet: { type: 'boolean', short: 'q' },
    expect: { type: 'string', multiple: true },
    json: { type: 'boolean' },
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
  const report = await withBackend(io, async (backend): Promise<VerifyReport> => {
    if (backend.kind === 'service') {
      const query = new URLSearchParams([...expected].map(([seq, hash]): [string, string] => ['expect', `${seq}:${hash}`]));
      return (await backend.client.request('GET', `/v1/audit/verify${query.size ? `?${query}` : ''}`)) as VerifyReport;
    }
    let lastReport = Date.now();
    const result = await backend.ctx.audit.verify({
      expected,
      onProgress: (checked) => {
        if (!values.quiet && Date.now() - lastReport > 2000) {
          lastReport = Date.now();
          io.stderr(`checked ${checked} entries…\n`);
        }
      },
    });
    return verifyReport(result, expected.size);
  });
  if (typeof report.ok !== 'boolean') throw new QuenchError('internal', 'the service answered something that is not a verification report; is QUENCH_URL a Quench service?');
  if (values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (report.ok) io.stdout(verifyText(report));
  else io.stderr(verifyText(report));
  return report.ok ? EXIT_INTACT : EXIT_BROKEN;
}
