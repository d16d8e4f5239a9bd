// src/format.js (sizes, durations, the composer's @/# autocomplete rules) and the admin
// console's pure helpers, without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyCompletion, findTrigger, formatBytes, formatDuration, formatPercent, matchRooms, roleName, roomLink,
} from '../src/format.js';
import { mayOpenConsole, tabFromHash } from '../src/admin.js';

test('formatBytes counts in powers of 1024 and drops useless zeros', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1 KB');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(10 * 1024 * 1024 + 512 * 1024), '10.5 MB');
  assert.equal(formatBytes(250 * 1024 ** 3), '250 GB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3 TB');
  for (const bad of [null, undefined, -1, NaN, Infinity, '12']) assert.equal(formatBytes(bad), '');
});

test('formatDuration shows the two largest units', () => {
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(59.9), '59 s');
  assert.equal(formatDuration(61), '1 min 1 s');
  assert.equal(formatDuration(2 * 3600 + 5 * 60 + 7), '2 h 5 min');
  assert.equal(formatDuration(3 * 86400 + 4 * 3600 + 59), '3 d 4 h');
  assert.equal(formatDuration(-5), '');
  assert.equal(formatDuration(undefined), '');
});

test('formatPercent rounds, marks slivers and refuses unknowns', () => {
  assert.equal(formatPercent(1, 4), '25%');
  assert.equal(formatPercent(1, 1000), '<1%');
  assert.equal(formatPercent(0, 10), '0%');
  assert.equal(formatPercent(5, 0), '');
  assert.equal(formatPercent(null, 10), '');
});

test('roleName knows the built-in roles and passes custom ones through', () => {
  assert.equal(roleName('admin'), 'Administrator');
  assert.equal(roleName('user-manager'), 'User manager');
  assert.equal(roleName('night-shift'), 'night-shift');
  assert.equal(roleName(''), 'Unknown');
});

test('findTrigger finds the @mention or #room before the caret, not inside words', () => {
  assert.deepEqual(findTrigger('hello @al'), { kind: '@', query: 'al', start: 6 });
  assert.deepEqual(findTrigger('#'), { kind: '#', query: '', start: 0 });
  assert.deepEqual(findTrigger('see #Gen'), { kind: '#', query: 'gen', start: 4 });
  assert.deepEqual(findTrigger('(#ops'), { kind: '#', query: 'ops', start: 1 });
  // The caret decides: text after it does not count.
  assert.deepEqual(findTrigger('go #ops now', 7), { kind: '#', query: 'ops', start: 3 });
  assert.equal(findTrigger('go #ops now'), null);
  assert.equal(findTrigger('mail bob@example.com'), null);
  assert.equal(findTrigger('C#'), null);
  assert.equal(findTrigger('issue #12 done '), null);
  assert.equal(findTrigger(''), null);
});

test('applyCompletion replaces the typed trigger and puts the caret after the insert', () => {
  const text = 'ask in #op about it';
  const caret = 10; // after "#op"
  const t = findTrigger(text, caret);
  const out = applyCompletion(text, caret, t, '[#ops](#/r/7)');
  assert.equal(out.text, 'ask in [#ops](#/r/7) about it');
  assert.equal(out.text.slice(0, out.caret), 'ask in [#ops](#/r/7) ');
  const end = applyCompletion('hi @bo', 6, findTrigger('hi @bo'), '@bob');
  assert.deepEqual(end, { text: 'hi @bob ', caret: 8 });
});

test('matchRooms ranks prefix matches first and skips direct messages', () => {
  const rooms = [
    { id: 1, kind: 'public', name: 'general' },
    { id: 2, kind: 'private', name: 'ops' },
    { id: 3, kind: 'public', name: 'dev-ops' },
    { id: 4, kind: 'dm', name: '', dm_members: ['bob'] },
    { id: 5, kind: 'public', name: 'operations' },
  ];
  assert.deepEqual(matchRooms(rooms, 'op').map((r) => r.id), [5, 2, 3]);
  assert.deepEqual(matchRooms(rooms, '').map((r) => r.name), ['dev-ops', 'general', 'operations', 'ops']);
  assert.deepEqual(matchRooms(rooms, 'zzz'), []);
  assert.equal(matchRooms(rooms, '', 2).length, 2);
  assert.deepEqual(matchRooms(undefined, 'a'), []);
});

test('roomLink is a Markdown link to the room in this app', () => {
  assert.equal(roomLink({ id: 42, name: 'ops' }), '[#ops](#/r/42)');
});

test('the admin console is offered by permission when the server lists them, else by role', () => {
  assert.equal(mayOpenConsole({ user: { role: 'admin' } }), true);
  assert.equal(mayOpenConsole({ user: { role: 'auditor' } }), true);
  assert.equal(mayOpenConsole({ user: { role: 'user' } }), false);
  assert.equal(mayOpenConsole({ user: { role: 'guest' } }), false);
  assert.equal(mayOpenConsole({ user: { role: 'custom' }, permissions: ['audit.view'] }), true);
  assert.equal(mayOpenConsole({ user: { role: 'custom' }, permissions: ['backups.view', 'messages.post'] }), true);
  // Permissions every user holds open nothing, whatever the role's name says.
  assert.equal(mayOpenConsole({ user: { role: 'admin' }, permissions: ['rooms.create_public', 'messages.post'] }), false);
  assert.equal(mayOpenConsole({ user: { role: 'custom' }, permissions: [] }), false);
  assert.equal(mayOpenConsole(null), false);
});

test('tabFromHash reads only known tabs', () => {
  assert.equal(tabFromHash('#/admin/audit'), 'audit');
  assert.equal(tabFromHash('#/admin/backups'), 'backups');
  assert.equal(tabFromHash('#/admin'), '');
  assert.equal(tabFromHash('#/admin/nope'), '');
  assert.equal(tabFromHash('#/r/3'), '');
  assert.equal(tabFromHash(undefined), '');
});
