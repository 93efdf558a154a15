// Type declarations for the two emulators, which ship none. Only the options this project uses.
declare module 'dynalite' {
  import type { Server } from 'node:http';
  export default function dynalite(options?: {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }): Server;
}
declare module 'kinesalite' {
  import type { Server } from 'node:http';
  export default function kinesalite(options?: {
    path?: string;
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }): Server;
}
