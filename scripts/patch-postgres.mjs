#!/usr/bin/env node
/**
 * Maintained patch of postgres.js (the `postgres` package), applied after every install by the
 * root `postinstall` script. Remove this file, the `postinstall` line in package.json and the
 * start-up check in src/db/driver-patch.ts once a postgres.js release fixes the defects below
 * (watch porsager/postgres#1154, #1208 and #1216; fixes proposed in #1168, #1176, #1209, #1215).
 * A `npm update` that changes the patched code makes this script fail loudly: then check the
 * upstream release notes before adapting it.
 *
 * The defects, all reached when PostgreSQL restarts or fails over with queries in flight:
 * 1. `nextWrite` writes to `socket` without checking it. A small write is buffered behind
 *    `setImmediate`; if the connection closed meanwhile (`closed()` sets `socket = null`), the
 *    immediate throws `TypeError: Cannot read properties of null (reading 'write')` from a timer,
 *    where no caller can catch it: the process dies (#1154, #1208). Guard: drop the buffered
 *    bytes and settle what waits on them with CONNECTION_CLOSED (dropping alone would leave the
 *    query pending forever, as #1209 notes).
 * 2. `closed()` and `terminate()` cancel the immediate but leave `nextWriteTimer` set, and
 *    `write()` only schedules a flush when it is null: the reconnected socket never sends its
 *    startup message, and every reconnect of that pool slot ends in CONNECT_TIMEOUT. Reset both.
 * 3. After a socket error (ECONNRESET), `closed()` settles nothing, trusting the 'error' event
 *    to have rejected every query; a query sent between the two events (the caller reacting to
 *    the first rejection) never settled. Settle it with CONNECTION_CLOSED.
 * 4. When a transaction's connection closes, `begin()` rejects but its callback keeps running;
 *    later statements (and the automatic COMMIT) went to whatever the connection became after
 *    reconnecting — outside any transaction — and queries queued in the transaction never
 *    settled (#1186, #1216). Reject them instead.
 * 5. Each new connection fetches the array types (`fetchArrayTypes()`, an async function called
 *    from the ReadyForQuery handler) before running the query that opened it, and nothing
 *    handles the promise it returns. When PostgreSQL restarts during that fetch, the types query
 *    is rejected (CONNECTION_CLOSED when a fast shutdown's FATAL arrives with the ReadyForQuery,
 *    ECONNREFUSED or ECONNRESET when it dies in flight and the reconnect fails) and the process
 *    sees an unhandled rejection (`quench serve` logs it as a bug; Node's default would exit).
 *    Handle it: the same failure has already reached the query that opened the connection (or
 *    that query is still queued and the next connection fetches the types again).
 * 6. A FATAL the server sends while a query runs (a fast shutdown's 57P01) is kept until the
 *    ReadyForQuery that never comes; `closed()` left it there, and the next session's first
 *    ReadyForQuery applied it to the query that opened the reconnected connection: after a
 *    restart, each pool slot that had a query in flight failed its next query with
 *    "terminating connection due to administrator command". Forget it with the socket.
 *
 * More edits take round trips out of every transaction (issue 14; docs/benchmarks.md), and
 * close what that would otherwise open (test/integration/db-pipelined-commit-attacks.test.ts):
 * 7. `begin()` starts the transaction's callback once BEGIN has a connection instead of once it
 *    is answered, and the statements queued behind it go out together: BEGIN and the first
 *    statements share one flight. A plain BEGIN on an idle connection fails only with the
 *    connection, and then so does everything behind it; a BEGIN with options is awaited. BEGIN
 *    learns its connection even behind a full pipeline (upstream threw an uncaught TypeError).
 * 8. After COMMIT, a statement of the transaction that failed (still in flight when COMMIT was
 *    sent: src/db/pipeline.ts `queued`), or a COMMIT answered with ROLLBACK (PostgreSQL's answer
 *    in a failed transaction, which upstream reported as success), rejects the transaction.
 * 9. A prepared statement whose plan went stale is sent again only outside a transaction: inside
 *    one the copy went after the statements already sent, COMMIT included, and ran in autocommit.
 *    There it is forgotten and fails the transaction, which src/db/prepared.ts runs again.
 * 10. The messages of one event-loop turn go out in one socket write of up to 16 KB (upstream:
 *    a write per KB); each write is a system call that also wakes the server.
 *
 * Usage: node scripts/patch-postgres.mjs [--check | --revert] [package dir]
 *   --check   verify only; exit 1 when a file is not patched.
 *   --revert  restore the upstream code (the tests use it to show the defects on a copy).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every patched file carries this marker; src/db/driver-patch.ts looks for it at start-up. */
export const MARKER = 'quench-patch(postgres#1154)';

const connectionEdits = [
  {
    name: 'nextWrite guards a closed socket',
    find: '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n',
    replace:
      '  function nextWrite(fn) {\n' +
      `    if (socket === null) { // ${MARKER}: the connection closed after this write was buffered\n` +
      '      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n' +
      '      chunk = nextWriteTimer = null\n' +
      "      error(Errors.connection('CONNECTION_CLOSED', options, socket))\n" +
      '      return true\n' +
      '    }\n' +
      '    const x = socket.write(chunk, fn)\n',
  },
  {
    name: 'terminate() resets the write buffer',
    find: '    clearImmediate(nextWriteTimer)\n    if (socket) {\n',
    replace: `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${MARKER}\n    if (socket) {\n`,
  },
  {
    name: 'closed() resets the write buffer',
    find: '    incomings = null\n    clearImmediate(nextWriteTimer)\n',
    replace: `    incomings = null\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${MARKER}\n`,
  },
  {
    name: "closed() forgets the closed session's error",
    find: '    socket.removeAllListeners()\n    socket = null\n',
    replace: `    socket.removeAllListeners()\n    socket = null\n    errorResponse = null // ${MARKER}: a FATAL of this session must not fail the next one's first query\n`,
  },
  {
    name: "the array-types fetch's rejection is handled",
    find: '        return fetchArrayTypes()\n',
    replace:
      `        // ${MARKER}: its failure also settles the query that opened the connection (errored()\n` +
      '        // rejects both), or that query waits for the next connection, which fetches again\n' +
      '        return fetchArrayTypes().catch(noop)\n',
  },
  {
    name: 'closed() settles queries sent after an error event',
    find: "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    replace:
      `    // ${MARKER}: also after a socket error; a query sent between 'error' and 'close' would never settle\n` +
      "    if (query || sent.length) error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
  },
  {
    name: 'a stale prepared statement is sent again only outside a transaction',
    find: '          : query.prepared && retryRoutines.has(errorResponse.routine)\n            ? retry(query, errorResponse)\n',
    replace:
      `          // ${MARKER}: only on an idle connection (ReadyForQuery 'I'): in a transaction the copy would\n` +
      '          // go after statements already sent, COMMIT included, and run outside it; there the stale\n' +
      '          // statement is forgotten and its error fails the transaction (src/db/prepared.ts runs it again)\n' +
      '          : query.prepared && retryRoutines.has(errorResponse.routine)\n' +
      '            ? x[5] === 73 ? retry(query, errorResponse) : (delete statements[query.signature], errored(errorResponse))\n',
  },
  {
    name: 'BEGIN learns its connection even when the pipeline is full',
    find:
      '      return write(toBuffer(q))\n' +
      '        && !q.describeFirst\n' +
      '        && !q.cursorFn\n' +
      '        && sent.length < max_pipeline\n' +
      '        && (!q.options.onexecute || q.options.onexecute(connection))\n',
    replace:
      '      const more = write(toBuffer(q))\n' +
      '        && !q.describeFirst\n' +
      '        && !q.cursorFn\n' +
      '        && sent.length < max_pipeline\n' +
      `      // ${MARKER}: upstream skipped onexecute when the pipeline was full, and begin() then threw a\n` +
      '      // TypeError no caller could catch\n' +
      '      return q.options.onexecute ? q.options.onexecute(connection) && more : more\n',
  },
  {
    name: 'a flight of messages goes out in one write',
    find: '    if (fn || chunk.length >= 1024)\n',
    replace:
      `    // ${MARKER}: the messages of one event-loop turn (a transaction's flight of statements) go out\n` +
      '    // in one socket write instead of one per KB; a write costs a system call and wakes the server\n' +
      '    if (fn || chunk.length >= 16384)\n',
  },
];

const indexEdits = [
  {
    name: 'begin() remembers that its connection closed',
    find: '      , connection\n      , prepare = null\n',
    replace: `      , connection\n      , prepare = null\n      , closedError = null // ${MARKER}\n`,
  },
  {
    name: 'a closed transaction rejects its queued queries',
    find: '        new Promise((_, reject) => connection.onclose = reject)\n',
    replace:
      '        new Promise((_, reject) => connection.onclose = e => {\n' +
      `          closedError = e // ${MARKER}: nothing of this transaction may run on a reconnected socket\n` +
      '          while (queries.length) queries.shift().reject(e)\n' +
      '          reject(e)\n' +
      '        })\n',
  },
  {
    name: 'a closed transaction rejects new statements, COMMIT and ROLLBACK',
    find: '      function handler(q) {\n        q.catch(e => uncaughtError || (uncaughtError = e))\n',
    replace:
      '      function handler(q) {\n' +
      '        q.catch(e => uncaughtError || (uncaughtError = e))\n' +
      `        if (closedError) return q.reject(closedError) // ${MARKER}\n`,
  },
  {
    name: "begin() sends the transaction's first statements behind BEGIN without waiting for its answer",
    find: "      await sql.unsafe('begin ' + options.replace(/[^a-z ]/ig, ''), [], { onexecute }).execute()\n",
    replace:
      `      // ${MARKER}: the transaction starts once BEGIN has a connection, not once it is answered, so\n` +
      '      // the first statements follow BEGIN in the same flight (a BEGIN on an idle connection fails only\n' +
      '      // with the connection, and then so do they)\n' +
      '      let assigned\n' +
      '      const onassign = new Promise(resolve => assigned = resolve)\n' +
      "      const began = sql.unsafe('begin ' + options.replace(/[^a-z ]/ig, ''), [], {\n" +
      '        onexecute: c => { const x = onexecute(c); assigned(); return x }\n' +
      '      }).execute()\n' +
      '      began.catch(() => {})\n' +
      '      // a BEGIN with options (isolation level, read only) can fail by itself: then nothing may follow it\n' +
      '      await (options ? began : Promise.race([began, onassign]))\n' +
      "      // the pool parked the connection as full (no one else's queries); the transaction's own go straight to it\n" +
      '      connection && connection.queue === full && move(connection, reserved)\n',
  },
  {
    name: "a transaction's statements queued behind BEGIN go out together",
    find: '      c.reserved = () => queries.length\n        ? c.execute(queries.shift())\n        : move(c, reserved)\n',
    replace:
      `      // ${MARKER}: the statements queued while BEGIN (or a statement being described) was in\n` +
      '      // flight go out together, as a pipeline, instead of one per answer\n' +
      '      c.reserved = () => {\n' +
      '        while (queries.length)\n' +
      '          if (!c.execute(queries.shift())) return move(c, full)\n' +
      '        move(c, reserved)\n' +
      '      }\n',
  },
  {
    name: 'a statement that failed in flight fails the transaction, even after COMMIT',
    find: "        prepare\n          ? await sql`prepare transaction '${ sql.unsafe(prepare) }'`\n          : await sql`commit`\n      }\n",
    replace:
      "        const ended = prepare\n          ? await sql`prepare transaction '${ sql.unsafe(prepare) }'`\n          : await sql`commit`\n" +
      `        // ${MARKER}: a statement still in flight when COMMIT was sent failed (one of a savepoint's too),\n` +
      '        // so PostgreSQL ended the transaction with ROLLBACK, its answer to COMMIT in a failed\n' +
      '        // transaction: never report that as committed\n' +
      '        if (uncaughtError) throw uncaughtError\n' +
      "        if (ended.command === 'ROLLBACK')\n" +
      "          throw Errors.generic('TRANSACTION_ROLLED_BACK', 'COMMIT was answered with ROLLBACK: a statement of the transaction failed')\n" +
      '      }\n',
  },
];

const targets = ['src', 'cjs/src', 'cf/src'].flatMap((dir) => [
  { file: join(dir, 'connection.js'), edits: connectionEdits },
  { file: join(dir, 'index.js'), edits: indexEdits },
]);

function count(text, part) {
  return text.split(part).length - 1;
}

/** Patches (or, with check, verifies) one package folder; returns the problems found. */
export function patchPostgres(packageDir, { check = false, revert = false } = {}) {
  const problems = [];
  const changed = [];
  for (const { file, edits } of targets) {
    const path = join(packageDir, file);
    if (!existsSync(path)) {
      problems.push(`${file}: missing`);
      continue;
    }
    let text = readFileSync(path, 'utf8');
    let dirty = false;
    for (const edit of edits) {
      if (revert) {
        if (count(text, edit.replace) === 1) {
          text = text.replace(edit.replace, edit.find);
          dirty = true;
        }
        continue;
      }
      if (count(text, edit.replace) === 1) continue; // applied already
      if (check) {
        problems.push(`${file}: not patched (${edit.name})`);
        continue;
      }
      const found = count(text, edit.find);
      if (found !== 1) {
        problems.push(`${file}: the code to patch (${edit.name}) was found ${found} times instead of once`);
        continue;
      }
      text = text.replace(edit.find, edit.replace);
      dirty = true;
    }
    if (dirty) {
      writeFileSync(path, text);
      changed.push(file);
    }
  }
  return { problems, changed };
}

/** The postgres package this project resolves (hoisted or not, as Node finds it): <pkg>/cjs/src/index.js. */
function installedPostgres() {
  try {
    return dirname(dirname(dirname(createRequire(import.meta.url).resolve('postgres'))));
  } catch {
    return undefined;
  }
}

function main(argv) {
  const check = argv.includes('--check');
  const revert = argv.includes('--revert');
  const dirArg = argv.find((a) => !a.startsWith('--'));
  const packageDir = dirArg ? resolve(dirArg) : installedPostgres();
  if (!packageDir) {
    console.error('patch-postgres: the postgres package is not installed; run npm ci first');
    return 1;
  }
  if (!existsSync(join(packageDir, 'package.json'))) {
    console.error(`patch-postgres: ${packageDir} is not installed; run npm ci first`);
    return 1;
  }
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const { problems, changed } = patchPostgres(packageDir, { check, revert });
  if (revert) {
    console.log(`patch-postgres: postgres@${version} ${changed.length ? 'reverted to the upstream code' : 'was not patched'}`);
    return 0;
  }
  if (problems.length > 0) {
    console.error(
      `patch-postgres: postgres@${version} in ${packageDir} ${check ? 'is not patched' : 'could not be patched'}:\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        (check
          ? '\nRun `node scripts/patch-postgres.mjs` (npm ci runs it as postinstall).'
          : '\nThe upstream code changed. If this release fixes porsager/postgres#1154/#1208/#1216, delete ' +
            'scripts/patch-postgres.mjs, the postinstall script and src/db/driver-patch.ts; otherwise adapt the edits here.'),
    );
    return 1;
  }
  console.log(
    `patch-postgres: postgres@${version} ${check ? 'is patched' : changed.length ? `patched (${changed.join(', ')})` : 'already patched'}`,
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
