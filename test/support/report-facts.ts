import type { ReportFacts } from '../../src/reports/core/facts.js';

/** A week's report facts with nothing in them but what the test gives: its period and SLOs, and any other field. */
export function reportFacts(given: Pick<ReportFacts, 'period' | 'slos'> & Partial<ReportFacts>): ReportFacts {
  return {
    samples: [],
    alertsFired: [],
    freezes: [],
    overrides: [],
    runs: [],
    humanSteps: [],
    escalations: 0,
    reassignments: 0,
    deadLetteredSteps: 0,
    drills: null,
    ...given,
  };
}
