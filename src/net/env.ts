/**
 * HTTP client settings from the environment, so a slow link (or a test that
 * must see a stall within a second) can tune them without a flag on every
 * command:
 *   BASEIMG_HTTP_IDLE_TIMEOUT_MS  longest wait for headers or the next body chunk (default 30000)
 *   BASEIMG_HTTP_RETRIES          retries after the first attempt (default 4)
 *   BASEIMG_HTTP_BACKOFF_MS       first retry delay, doubled per retry up to 10 s (default 500)
 * A value that is not a plain integer is a USAGE error naming the variable:
 * silently falling back to a default would hide the typo.
 */
import { BaseimgError } from '../util/errors.js';
import type { HttpClientOptions } from './http.js';

const SETTINGS = [
  { name: 'BASEIMG_HTTP_IDLE_TIMEOUT_MS', key: 'idleTimeoutMs', min: 1, max: 3_600_000 },
  { name: 'BASEIMG_HTTP_RETRIES', key: 'retries', min: 0, max: 100 },
  { name: 'BASEIMG_HTTP_BACKOFF_MS', key: 'backoffBaseMs', min: 0, max: 600_000 },
] as const;

export function httpSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<HttpClientOptions, 'idleTimeoutMs' | 'retries' | 'backoffBaseMs'> {
  const out: Pick<HttpClientOptions, 'idleTimeoutMs' | 'retries' | 'backoffBaseMs'> = {};
  for (const s of SETTINGS) {
    const raw = env[s.name];
    if (raw === undefined || raw === '') continue;
    const value = /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!(value >= s.min && value <= s.max)) {
      throw new BaseimgError('USAGE', `${s.name}="${raw}" is not an integer from ${s.min} to ${s.max}`, {
        hint: `unset ${s.name} or set it to a whole number`,
      });
    }
    out[s.key] = value;
  }
  return out;
}
