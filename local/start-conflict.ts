/** `npm start`'s start-up conflicts, told as what to do (README, Quick start). */
/**
 * What a start-up conflict means for the user, or undefined for any other failure: the data folder is another
 * engine's (the emulators' LevelDB lock), or the port is taken.
 */
export function startConflict(error: unknown, where: { dataDir: string; port: number }): string | undefined {
  const text = (e: unknown): string =>
    e instanceof Error ? `${e.name} ${e.message} ${(e as { code?: string }).code ?? ''} ${text(e.cause)}` : '';
  const all = text(error);
  if (/EADDRINUSE/.test(all)) {
    return `port ${where.port} is taken (another engine, or another server): stop it, or start on another port with PORT=3001 npm start`;
  }
  if (/LOCK|lock .*Resource temporarily unavailable/.test(all)) {
    return `another engine uses ${where.dataDir} (its emulators hold the lock): stop it, or give this one its own folder with NBA_DATA_DIR=.local-data-2 npm start`;
  }
  return undefined;
}
