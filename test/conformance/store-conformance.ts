/**
 * The Store conformance suite: written once against the contract (src/store/store.ts), run against
 * every backend. A backend only supplies a harness (`test/<backend>.conformance.test.ts`).
 *
 * Every test opens a fresh, empty store with a ManualClock and TEST_POLICY (fixtures.ts); lease
 * expiry and backoff are driven by advancing the clock, never by sleeping.
 */
import { describe } from 'vitest';

import { agentTests } from './agents.js';
import { coordinatorTests } from './coordinator.js';
import { claimTests } from './claim.js';
import { creationTests } from './creation.js';
import { divergenceTests } from './divergences.js';
import { exactTests } from './exact.js';
import type { BackendHarness } from './fixtures.js';
import { leadershipTests } from './leadership.js';
import { leaseTests } from './leases.js';
import { modelTests } from './model.js';
import { queryTests } from './queries.js';
import { questionTests } from './questions.js';
import { flowTests } from './review-and-flow.js';
import { sessionTests } from './sessions.js';
import { tokenTests } from './tokens.js';

export type { BackendHarness } from './fixtures.js';

export function defineStoreConformance(h: BackendHarness): void {
  describe(`store conformance: ${h.name}`, () => {
    agentTests(h);
    creationTests(h);
    claimTests(h);
    leaseTests(h);
    sessionTests(h);
    flowTests(h);
    questionTests(h);
    divergenceTests(h);
    exactTests(h);
    queryTests(h);
    modelTests(h);
    coordinatorTests(h);
    leadershipTests(h);
    tokenTests(h);
  });
}
