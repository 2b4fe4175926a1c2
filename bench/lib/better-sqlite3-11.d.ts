/** better-sqlite3 11.9.1 under an npm alias (for liteque): the same API as the root project's better-sqlite3. */
declare module 'better-sqlite3-11' {
  import Database from 'better-sqlite3';
  export = Database;
}
