/**
 * specs/debian13: every flavour with its debug and nonroot variants, built
 * from the real mirror and run in podman, and the layers they share
 * (test/helpers/family.ts). Skips with a message when no mirror is
 * configured; under CI=true that fails.
 */
import { runFamilyTests } from '../helpers/family.js';

runFamilyTests('13', ['trixie', 'trixie-updates', 'trixie-security']);
