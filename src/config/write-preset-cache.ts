/**
 * The last step of `npm run build`: the shipped presets as the loader reads
 * them, into dist/bin/presets.cache.json (preset-cache.ts says why and when
 * it is used).
 */
import { PRESET_CACHE_FILE, writePresetCache } from './load.js';

writePresetCache();
process.stdout.write(`banban: wrote ${PRESET_CACHE_FILE}\n`);
