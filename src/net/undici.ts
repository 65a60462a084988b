/**
 * The parts of undici baseimg uses, loaded file by file instead of through
 * undici's index. The index loads ~110 modules (fetch, WebSocket, mock
 * agents, caches) in ~75 ms, all of it before the first request of every
 * build; these ~30 load in ~25 ms. Like the index, this mixes undici's
 * request API (request, connect, stream...) into Dispatcher.prototype: its
 * own ProxyAgent relies on it. The lockfile pins undici's version, and every
 * download and proxy test goes through this file, so a moved file cannot
 * pass unnoticed.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

const DispatcherClass = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = require('undici/lib/api/index.js') as object;
// What undici's index does; the same functions, so harmless if the index is loaded too.
Object.assign(DispatcherClass.prototype, api);

export type { Dispatcher } from 'undici';
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent;
