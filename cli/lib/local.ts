/**
 * Where the local engine is, as `npm start` was told (README, Quick start): its data folder (`NBA_DATA_DIR`, default
 * `.local-data`) and its port (`PORT`, default 3000); its API key is `local/api-key.ts`'s `defaultApiKey`. Every tool
 * that works on the local engine defaults to these, so the README's commands reach the engine `npm start` runs with
 * the same variables.
 */
export const localDataDir = (): string => process.env.NBA_DATA_DIR ?? '.local-data';
export const localApiUrl = (): string => `http://127.0.0.1:${process.env.PORT ?? 3000}`;
