// The signed-in chat application: sidebar, timeline, composer, thread/pins/search panels,
// dialogs and the admin console. State lives in one mutable store (a ref) and a version
// counter that re-renders; live events from live.js are applied to it.
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { startLive } from './live.js';
import { renderMarkdown, renderSnippet } from './markdown.js';
import { applyCompletion, findTrigger, initials, matchRooms, roomLink } from './format.js';
import { Logo } from './logo.js';
import { AdminView, mayOpenConsole, tabFromHash } from './admin.js';

// Messages of an erased account keep their place with no author.
const DELETED_AUTHOR = { id: 0, username: '', display_name: 'Deleted user' };
const who = (m) => m.author || DELETED_AUTHOR;

const EMOJI = ['👍', '👎', '😀', '😂', '😊', '😍', '🤔', '😮', '😢', '😡', '🎉', '🙏', '👏', '🔥', '✅', '❌',
  '👀', '🚀', '❤️', '💯', '⚠️', '☕', '🍕', '👋'];
const QUICK = ['👍', '✅', '😂', '🎉', '👀'];
const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full' });

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function roomLabel(room, me) {
  if (room.kind === 'dm' || room.kind === 'group' || room.kind === 'direct') {
    const others = (room.dm_members || []).filter((m) => (m.username || m) !== me);
    const names = others.map((m) => m.display_name || m.username || m);
    return names.join(', ') || room.name || 'Direct message';
  }
  return room.name;
}
const isDirect = (r) => r.kind !== 'public' && r.kind !== 'private';
const dayKey = (iso) => new Date(iso).toDateString();

function Dialog({ title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    const f = el && el.querySelector('input,button,select,textarea');
    if (f) f.focus();
  }, []);
  return html`<div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="dialog card" role="dialog" aria-modal="true" aria-label=${title} ref=${ref}
      onKeyDown=${(e) => e.key === 'Escape' && onClose()}>
      <div class="dialog-head"><h2>${title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick=${onClose}>✕</button></div>
      ${children}
    </div>
  </div>`;
}

function BrowseDialog({ initialQuery, onClose, onJoined }) {
  const [q, setQ] = useState(initialQuery || '');
  const [rooms, setRooms] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const t = setTimeout(() => {
      api.get(`/rooms/directory?q=${encodeURIComponent(q)}&limit=50`).then((r) => setRooms(r.rooms || []),
        (e) => setError(e.message));
    }, 150);
    return () => clearTimeout(t);
  }, [q]);
  async function join(room) {
    try {
      if (!room.joined) await api.post(`/rooms/${room.id}/join`);
      onJoined(room.id);
    } catch (e) { setError(e.message); }
  }
  return html`<${Dialog} title="Browse channels" onClose=${onClose}>
    <input type="search" class="input" aria-label="Search channels" placeholder="Search channels"
      value=${q} onInput=${(e) => setQ(e.target.value)} />
    ${error && html`<p class="error-text">${error}</p>`}
    <ul class="list">
      ${rooms.map((r) => html`<li key=${r.id}><div><strong># ${r.name}</strong>
        <div class="muted small">${r.topic} · ${r.member_count} members</div></div>
        <button type="button" class="secondary" onClick=${() => join(r)}>${r.joined ? 'Open' : 'Join'}</button></li>`)}
      ${rooms.length === 0 && html`<li class="muted">No channels found.</li>`}
    </ul>
  <//>`;
}

function NewChannelDialog({ onClose, onCreated }) {
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [kind, setKind] = useState('public');
  const [error, setError] = useState('');
  async function submit(e) {
    e.preventDefault();
    try {
      const r = await api.post('/rooms', { name, topic, kind });
      onCreated(r.room.id);
    } catch (err) { setError(err.message); }
  }
  return html`<${Dialog} title="New channel" onClose=${onClose}>
    <form onSubmit=${submit}>
      <label class="label">Name<input class="input" required value=${name} onInput=${(e) => setName(e.target.value)} /></label>
      <label class="label">Topic<input class="input" value=${topic} onInput=${(e) => setTopic(e.target.value)} /></label>
      <label class="label">Visibility<select class="input" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="public">Public: anyone can find and join</option>
        <option value="private">Private: by invitation</option></select></label>
      ${error && html`<p class="error-text" role="alert">${error}</p>`}
      <div class="actions"><button type="submit" class="primary">Create</button></div>
    </form>
  <//>`;
}

function NewMessageDialog({ me, onClose, onCreated }) {
  const [q, setQ] = useState('');
  const [people, setPeople] = useState([]);
  const [picked, setPicked] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const t = setTimeout(() => api.get(`/people?q=${encodeURIComponent(q)}`).then(
      (r) => setPeople((r.people || []).filter((p) => p.username !== me)), (e) => setError(e.message)), 150);
    return () => clearTimeout(t);
  }, [q]);
  async function open() {
    try {
      const r = await api.post('/dms', { users: picked });
      onCreated(r.room.id);
    } catch (err) { setError(err.message); }
  }
  const toggle = (u) => setPicked(picked.includes(u) ? picked.filter((x) => x !== u) : [...picked, u]);
  return html`<${Dialog} title="New message" onClose=${onClose}>
    <input type="search" class="input" aria-label="Find people" placeholder="Find people" value=${q}
      onInput=${(e) => setQ(e.target.value)} />
    <ul class="list">
      ${people.map((p) => html`<li key=${p.id}><label class="check">
        <input type="checkbox" checked=${picked.includes(p.username)} onChange=${() => toggle(p.username)} />
        ${p.display_name || p.username} <span class="muted">@${p.username}</span></label></li>`)}
    </ul>
    ${error && html`<p class="error-text" role="alert">${error}</p>`}
    <div class="actions"><button type="button" class="primary" disabled=${!picked.length} onClick=${open}>
      Open ${picked.length > 1 ? 'group' : 'conversation'}</button></div>
  <//>`;
}

// A presence dot: online, away or offline (unknown counts as offline).
function PresenceDot({ status }) {
  const s = status || 'offline';
  return html`<span class="presence presence-${s}" role="img" aria-label=${s} title=${s}></span>`;
}

// The one other person of a two-person DM, or null.
function dmPartner(room, me) {
  if (!isDirect(room)) return null;
  const others = (room.dm_members || []).map((m) => m.username || m).filter((m) => m !== me);
  return others.length === 1 ? others[0] : null;
}

function Sidebar({ store, me, current, onOpen, onDialog }) {
  const [filter, setFilter] = useState('');
  const f = filter.trim().toLowerCase();
  const rooms = store.rooms.filter((r) => !f || roomLabel(r, me).toLowerCase().includes(f));
  const sorted = (list) => [...list].sort((a, b) => (b.starred - a.starred) || roomLabel(a, me).localeCompare(roomLabel(b, me)));
  const section = (title, list, prefix, action) => html`<div class="side-section">
    <div class="side-head"><h2>${title}</h2>${action}</div>
    <ul role="list">
      ${sorted(list).map((r) => {
        const label = roomLabel(r, me);
        const badge = r.mentions > 0 ? html`<span class="badge badge-mention" aria-label="${r.mentions} mentions">${r.mentions}</span>`
          : r.unread > 0 ? html`<span class="badge" aria-label="${r.unread} unread">${r.unread}</span>` : null;
        return html`<li key=${r.id}><a href="#/r/${r.id}" data-room=${r.id}
          class="room-link ${r.id === current ? 'active' : ''} ${r.unread > 0 ? 'unread' : ''}"
          aria-current=${r.id === current ? 'page' : undefined} onClick=${(e) => { e.preventDefault(); onOpen(r.id); }}>
          ${dmPartner(r, me) && !r.starred ? html`<span class="room-prefix"><${PresenceDot}
            status=${store.presence[store.userIds[dmPartner(r, me)]]} /></span>`
          : html`<span class="room-prefix" aria-hidden="true">${r.starred ? '★' : prefix(r)}</span>`}
          <span class="room-name">${label}</span>${badge}</a></li>`;
      })}
    </ul></div>`;
  return html`<nav class="sidebar" aria-label="Rooms">
    <input type="search" class="input filter" placeholder="Find a room" aria-label="Find a room" value=${filter}
      onInput=${(e) => setFilter(e.target.value)} />
    <div class="side-actions">
      <button type="button" class="link" onClick=${() => onDialog('browse')}>Browse channels</button>
      <button type="button" class="link" onClick=${() => onDialog('channel')}>New channel</button>
      <button type="button" class="link" onClick=${() => onDialog('dm')}>New message</button>
    </div>
    ${section('Channels', rooms.filter((r) => r.kind === 'public'), () => '#')}
    ${section('Private channels', rooms.filter((r) => r.kind === 'private'), () => '🔒')}
    ${section('Direct messages', rooms.filter(isDirect), () => '@')}
  </nav>`;
}

function Reactions({ msg, onToggle }) {
  if (!msg.reactions || !msg.reactions.length || msg.deleted) return null;
  return html`<div class="reactions">${msg.reactions.map((r) => html`<button type="button" key=${r.emoji}
    class="reaction ${r.mine ? 'mine' : ''}" aria-pressed=${r.mine ? 'true' : 'false'}
    aria-label="${r.emoji} ${r.count}${r.mine ? ', you reacted' : ''}" onClick=${() => onToggle(msg, r.emoji)}>
    ${r.emoji} <span>${r.count}</span></button>`)}</div>`;
}

// Puts `text` into the composer's textarea with the caret at `caret` now, not after the next
// render: a key typed in between would otherwise land before the caret is moved. The state
// update that follows finds the same value and leaves the caret alone.
function placeCaret(el, text, caret) {
  el.value = text;
  el.focus();
  el.setSelectionRange(caret, caret);
}

// A grid of emoji buttons: focus moves into it when it opens, arrow keys move between them
// (PER_ROW to a row), Home/End jump, Escape or Tab closes it and focus returns to the opener.
const PER_ROW = 8;
function EmojiPicker({ onPick, onClose }) {
  const ref = useRef(null);
  const [at, setAt] = useState(0);
  useEffect(() => {
    const opener = document.activeElement;
    const first = ref.current && ref.current.querySelector('button');
    if (first) first.focus();
    // Back to the opener unless the pick moved focus on purpose (the composer takes it back).
    const picker = ref.current;
    return () => {
      const a = document.activeElement;
      if (opener && opener.isConnected && (!a || a === document.body || (picker && picker.contains(a)))) opener.focus();
    };
  }, []);
  function move(i) {
    const n = (i + EMOJI.length) % EMOJI.length;
    setAt(n);
    const b = ref.current.querySelectorAll('button')[n];
    if (b) b.focus();
  }
  function onKeyDown(e) {
    const keys = { ArrowRight: at + 1, ArrowLeft: at - 1, ArrowDown: at + PER_ROW, ArrowUp: at - PER_ROW, Home: 0, End: EMOJI.length - 1 };
    if (e.key in keys) { e.preventDefault(); move(keys[e.key]); } else if (e.key === 'Escape' || e.key === 'Tab') {
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); }
      onClose();
    }
  }
  return html`<div class="emoji-picker" role="group" aria-label="Emoji (arrow keys to move, Enter to pick, Escape to close)" ref=${ref} onKeyDown=${onKeyDown}>
    ${EMOJI.map((e, i) => html`<button type="button" class="icon" tabindex=${i === at ? 0 : -1} aria-label=${e}
      onClick=${() => onPick(e)}>${e}</button>`)}
  </div>`;
}

function Message({ msg, me, grouped, ctx, inThread }) {
  const [menu, setMenu] = useState(false);
  const [picker, setPicker] = useState(false);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const mine = msg.author && msg.author.username === me.username;
  const name = who(msg).display_name || who(msg).username;
  const bodyHtml = useMemo(() => {
    if (msg.deleted) return '';
    const h = renderMarkdown(msg.body, me.username).trimEnd();
    // "(edited)" sits at the end of the last paragraph when there is one.
    return msg.edited_at && h.endsWith('</p>') ? h.slice(0, -4) + ' <span class="muted small edited">(edited)</span></p>' : h;
  }, [msg.body, msg.deleted, msg.edited_at]);
  const editedInline = msg.edited_at && bodyHtml.endsWith('(edited)</span></p>');
  const startEdit = () => { setDraft(msg.body); setEditing(true); setMenu(false); };
  useEffect(() => { if (ctx.editId === msg.id) { startEdit(); ctx.clearEdit(); } }, [ctx.editId]);
  async function saveEdit() {
    setEditing(false);
    if (draft.trim() && draft !== msg.body) await ctx.act(() => api.patch(`/messages/${msg.id}`, { body: draft }));
  }
  return html`<div class="msg ${grouped ? 'grouped' : ''} ${msg.failed ? 'failed' : ''} ${ctx.highlight === msg.id ? 'highlight' : ''}"
    id="m-${msg.id}" data-id=${msg.id} tabindex="-1">
    ${!grouped && html`<div class="msg-head"><span class="avatar small-avatar" aria-hidden="true">${initials(name)}</span>
      <strong class="author">${name}</strong>
      <time class="muted small" datetime=${msg.created_at}>${timeFmt.format(new Date(msg.created_at))}</time></div>`}
    <div class="msg-body-wrap">
      ${msg.deleted ? html`<p class="tombstone muted">This message was deleted.</p>`
        : editing ? html`<div class="edit-box"><textarea class="input" aria-label="Edit message" value=${draft}
            onInput=${(e) => setDraft(e.target.value)}
            onKeyDown=${(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); saveEdit(); } if (e.key === 'Escape') setEditing(false); }}
            ref=${(el) => el && !el.dataset.f && (el.dataset.f = '1', el.focus())}></textarea>
            <div class="actions"><button type="button" class="secondary" onClick=${() => setEditing(false)}>Cancel</button>
            <button type="button" class="primary" onClick=${saveEdit}>Save</button></div></div>`
        : html`<div class="msg-body" dangerouslySetInnerHTML=${{ __html: bodyHtml }}></div>`}
      ${msg.edited_at && !msg.deleted && !editedInline && html`<span class="muted small edited">(edited)</span>`}
      ${msg.pinned && html`<span class="muted small"> 📌 pinned</span>`}
      ${msg.failed && html`<div class="error-text small">Not sent. <button type="button" class="link" onClick=${() => ctx.retry(msg)}>Retry</button></div>`}
      <${Reactions} msg=${msg} onToggle=${ctx.toggleReaction} />
      ${!inThread && msg.reply_count > 0 && html`<button type="button" class="link replies" onClick=${() => ctx.openThread(msg.id)}>
        ${msg.reply_count} ${msg.reply_count === 1 ? 'reply' : 'replies'}</button>`}
    </div>
    ${!msg.deleted && !msg.pending && !msg.failed && html`<div class="msg-tools">
      ${QUICK.slice(0, 2).map((e) => html`<button type="button" class="icon" aria-label="React ${e}" onClick=${() => ctx.toggleReaction(msg, e)}>${e}</button>`)}
      <button type="button" class="icon" aria-label="Add reaction" onClick=${() => setPicker(!picker)}>☺</button>
      ${!inThread && html`<button type="button" class="icon" aria-label="Reply in thread" onClick=${() => ctx.openThread(msg.id)}>💬</button>`}
      <button type="button" class="icon" aria-label="More actions" aria-haspopup="menu" aria-expanded=${menu ? 'true' : 'false'}
        onClick=${() => setMenu(!menu)}>⋯</button>
      ${picker && html`<${EmojiPicker} onPick=${(e) => { setPicker(false); ctx.toggleReaction(msg, e); }} onClose=${() => setPicker(false)} />`}
      ${menu && html`<div class="menu" role="menu" onKeyDown=${(e) => e.key === 'Escape' && setMenu(false)}>
        ${mine && html`<button type="button" role="menuitem" onClick=${startEdit}>Edit</button>`}
        <button type="button" role="menuitem" onClick=${() => { setMenu(false); ctx.act(() => api.put(`/messages/${msg.id}/pin`, { pinned: !msg.pinned })); }}>${msg.pinned ? 'Unpin' : 'Pin'}</button>
        <button type="button" role="menuitem" onClick=${() => { setMenu(false); navigator.clipboard && navigator.clipboard.writeText(`${location.origin}/#/m/${msg.id}`); }}>Copy link</button>
        <button type="button" role="menuitem" class="danger" onClick=${() => { setMenu(false); if (confirm('Delete this message?')) ctx.act(() => api.del(`/messages/${msg.id}`)); }}>Delete</button>
      </div>`}
    </div>`}
  </div>`;
}

// The composer: Markdown text, Enter to send; '@' suggests the room's members and '#' the
// caller's channels (arrow keys choose, Enter or Tab inserts, Escape dismisses). A chosen
// channel becomes a Markdown link to it, which the timeline shows as a room link.
function Composer({ roomId, threadId, me, members, rooms, disabled, ctx, label }) {
  const key = `draft:${roomId}:${threadId || ''}`;
  const [text, setText] = useState(() => sessionStorage.getItem(key) || '');
  const [picker, setPicker] = useState(false);
  // The @mention or #room being typed ({kind, query, start}), or null; suggestions follow the
  // member list, which may arrive later.
  const [trigger, setTrigger] = useState(null);
  const [active, setActive] = useState(0);
  const listId = `suggest-${roomId}-${threadId || 'main'}`;
  let sugg = [];
  if (trigger && trigger.kind === '@') {
    sugg = (members || []).filter((p) => p.username.startsWith(trigger.query) && p.username !== me.username).slice(0, 6)
      .map((p) => ({ key: `u${p.id}`, insert: `@${p.username}`, label: `@${p.username}`, hint: p.display_name }));
  } else if (trigger && trigger.kind === '#') {
    sugg = matchRooms(rooms, trigger.query).map((r) => ({ key: `r${r.id}`, insert: roomLink(r),
      label: `${r.kind === 'private' ? '🔒' : '#'} ${r.name}`, hint: r.topic }));
  }
  const activeIndex = Math.min(active, Math.max(sugg.length - 1, 0));
  const ref = useRef(null);
  useEffect(() => { setText(sessionStorage.getItem(key) || ''); setTrigger(null); }, [key]);
  const update = (v, caret = v.length) => {
    setText(v);
    if (v) sessionStorage.setItem(key, v); else sessionStorage.removeItem(key);
    if (v.trim()) ctx.typing(roomId);
    const t = findTrigger(v, caret);
    if (!t || !trigger || t.kind !== trigger.kind || t.start !== trigger.start) setActive(0);
    setTrigger(t);
  };
  const complete = (s) => {
    const el = ref.current;
    const caret = el ? el.selectionStart : text.length;
    const out = applyCompletion(text, caret, trigger, s.insert);
    update(out.text, out.caret);
    setTrigger(null);
    if (el) placeCaret(el, out.text, out.caret);
  };
  function send() {
    const body = text.trim();
    if (!body) return;
    update('');
    ctx.send(roomId, body, threadId);
  }
  function onKeyDown(e) {
    if (sugg.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : -1) + sugg.length) % sugg.length);
        return;
      }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey && !e.isComposing)) { e.preventDefault(); complete(sugg[activeIndex]); return; }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); setTrigger(null); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    else if (e.key === 'ArrowUp' && !text) { e.preventDefault(); ctx.editLast(roomId, threadId); }
  }
  const what = trigger && trigger.kind === '#' ? 'Channel suggestions' : 'Mention suggestions';
  return html`<div class="composer">
    ${sugg.length > 0 && html`<ul class="suggest" role="listbox" id=${listId} aria-label=${what}>${sugg.map((s, i) => html`<li
      role="option" key=${s.key} id=${`${listId}-${i}`} aria-selected=${i === activeIndex ? 'true' : 'false'}
      class=${i === activeIndex ? 'active' : ''} onMouseDown=${(e) => e.preventDefault()} onClick=${() => complete(s)}>
      ${s.label} <span class="muted">${s.hint}</span></li>`)}</ul>`}
    <textarea ref=${ref} class="input" rows="2" aria-label=${label} placeholder=${disabled ? 'You cannot post here' : label}
      aria-autocomplete="list" aria-controls=${sugg.length ? listId : undefined}
      aria-activedescendant=${sugg.length ? `${listId}-${activeIndex}` : undefined}
      disabled=${disabled} value=${text} onInput=${(e) => update(e.target.value, e.target.selectionStart)} onKeyDown=${onKeyDown}
      onClick=${(e) => setTrigger(findTrigger(e.target.value, e.target.selectionStart))}></textarea>
    <div class="composer-tools">
      <button type="button" class="icon" aria-label="Insert emoji" aria-expanded=${picker ? 'true' : 'false'} onClick=${() => setPicker(!picker)}>☺</button>
      ${picker && html`<${EmojiPicker} onPick=${(e) => {
        const el = ref.current;
        const caret = el ? el.selectionStart : text.length;
        const next = text.slice(0, caret) + e + text.slice(caret);
        setPicker(false);
        update(next, caret + e.length);
        if (el) placeCaret(el, next, caret + e.length);
      }} onClose=${() => setPicker(false)} />`}
      <span class="muted small hint">Enter to send, Shift+Enter for a new line, @ for people, # for channels</span>
      <button type="button" class="primary" onClick=${send} disabled=${disabled}>Send</button>
    </div>
  </div>`;
}

function Timeline({ store, room, me, ctx }) {
  const data = store.history[room.id];
  const scroller = useRef(null);
  const stick = useRef(true);
  const prevHeight = useRef(0);
  const shown = useRef(null);
  const lastRoom = useRef(null);
  const list = data ? data.list.filter((m) => !m.thread_root_id) : [];
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (lastRoom.current !== room.id) { lastRoom.current = room.id; stick.current = true; prevHeight.current = 0; }
    if (ctx.highlight && ctx.highlight !== shown.current && list.some((m) => m.id === ctx.highlight)) {
      const t = document.getElementById(`m-${ctx.highlight}`);
      if (t) {
        shown.current = ctx.highlight;
        stick.current = false;
        t.scrollIntoView({ block: 'center' });
        prevHeight.current = el.scrollHeight;
        return;
      }
    }
    if (prevHeight.current && data && data.prepended) {
      el.scrollTop = el.scrollHeight - prevHeight.current + el.scrollTop;
      data.prepended = false;
    } else if (stick.current) el.scrollTop = el.scrollHeight;
    prevHeight.current = el.scrollHeight;
  });
  function onScroll() {
    const el = scroller.current;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    prevHeight.current = el.scrollHeight;
    if (el.scrollTop < 200) ctx.loadOlder(room.id);
    if (stick.current) ctx.markRead(room.id);
  }
  if (!data) return html`<div class="timeline center"><span class="spinner spinner-large" aria-hidden="true"></span></div>`;
  const rows = [];
  let prev = null;
  for (const m of list) {
    if (!prev || dayKey(prev.created_at) !== dayKey(m.created_at)) {
      rows.push(html`<div class="day" role="separator" key="d${m.id}"><span>${dayFmt.format(new Date(m.created_at))}</span></div>`);
      prev = null;
    }
    if (data.readMarker != null && m.seq > data.readMarker && (!prev || prev.seq <= data.readMarker) &&
        who(m).username !== me.username) {
      rows.push(html`<div class="new-line" role="separator" key="n${m.id}"><span>New messages</span></div>`);
      prev = null;
    }
    const grouped = prev && who(prev).id === who(m).id && !prev.deleted &&
      Date.parse(m.created_at) - Date.parse(prev.created_at) < 5 * 60000;
    rows.push(html`<${Message} key=${m.id} msg=${m} me=${me} grouped=${grouped} ctx=${ctx} />`);
    prev = m;
  }
  return html`<div class="timeline" ref=${scroller} onScroll=${onScroll} role="log" aria-label="Messages in ${room.name}" tabindex="0">
    ${data.older ? html`<div class="muted center-text small">${data.loadingOlder ? 'Loading…' : ''}</div>`
      : html`<div class="room-start muted">This is the beginning of the room.</div>`}
    ${rows}
  </div>`;
}

function ThreadPanel({ store, rootId, me, ctx, onClose }) {
  const t = store.threads[rootId];
  useEffect(() => { ctx.loadThread(rootId); }, [rootId]);
  if (!t) return html`<aside class="panel" aria-label="Thread"><div class="panel-head"><h2>Thread</h2>
    <button type="button" class="icon" aria-label="Close thread" onClick=${onClose}>✕</button></div></aside>`;
  const root = ctx.findMessage(t.root.room_id, rootId) || t.root;
  const following = t.following !== false;
  return html`<aside class="panel" aria-label="Thread">
    <div class="panel-head"><h2>Thread</h2>
      <button type="button" class="secondary small-btn" onClick=${() => ctx.follow(rootId, !following)}>${following ? 'Unfollow' : 'Follow'}</button>
      <button type="button" class="icon" aria-label="Close thread" onClick=${onClose}>✕</button></div>
    <div class="panel-body">
      <${Message} msg=${root} me=${me} ctx=${ctx} inThread=${true} />
      <div class="muted small thread-count">${t.replies.length} ${t.replies.length === 1 ? 'reply' : 'replies'}</div>
      ${t.replies.map((m) => html`<${Message} key=${m.id} msg=${m} me=${me} ctx=${ctx} inThread=${true} />`)}
    </div>
    <${Composer} roomId=${root.room_id} threadId=${rootId} me=${me} ctx=${ctx} members=${store.members[root.room_id]} rooms=${store.rooms} label="Reply in thread" />
  </aside>`;
}

function PinsPanel({ roomId, ctx, onClose }) {
  const [pins, setPins] = useState(null);
  useEffect(() => { api.get(`/rooms/${roomId}/pins`).then((r) => setPins(r.messages || []), () => setPins([])); }, [roomId]);
  return html`<aside class="panel" aria-label="Pinned messages">
    <div class="panel-head"><h2>Pinned</h2><button type="button" class="icon" aria-label="Close pins" onClick=${onClose}>✕</button></div>
    <div class="panel-body">${pins === null ? 'Loading…' : pins.length === 0 ? html`<p class="muted">Nothing pinned.</p>`
      : pins.map((m) => html`<button type="button" class="result" onClick=${() => ctx.jump(m.id)}>
        <strong>${who(m).display_name || who(m).username}</strong>
        <div class="msg-body" dangerouslySetInnerHTML=${{ __html: renderMarkdown(m.body, '') }}></div></button>`)}</div>
  </aside>`;
}

function SearchPanel({ ctx, onClose }) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState(null);
  const [error, setError] = useState('');
  async function run(e) {
    e.preventDefault();
    setError('');
    try {
      const r = await api.get(`/search?q=${encodeURIComponent(q)}&limit=30`);
      setResults(r.results || []);
    } catch (err) { setError(err.message); setResults(null); }
  }
  return html`<aside class="panel" aria-label="Search">
    <div class="panel-head"><h2>Search</h2><button type="button" class="icon" aria-label="Close search" onClick=${onClose}>✕</button></div>
    <form onSubmit=${run} class="search-form" role="search">
      <input type="search" class="input" aria-label="Search messages" placeholder="words from:name in:channel after:2026-01-01"
        value=${q} onInput=${(e) => setQ(e.target.value)} ref=${(el) => el && !el.dataset.f && (el.dataset.f = '1', el.focus())} />
    </form>
    <div class="panel-body" aria-live="polite">
      ${error && html`<p class="error-text">${error}</p>`}
      ${results && results.length === 0 && html`<p class="muted">No results.</p>`}
      ${results && results.map((r) => html`<button type="button" class="result" key=${r.message.id} onClick=${() => ctx.jump(r.message.id)}>
        <span class="muted small">#${r.room_name} · ${who(r.message).display_name || who(r.message).username}</span>
        <div class="snippet" dangerouslySetInnerHTML=${{ __html: renderSnippet(r.snippet) }}></div></button>`)}
    </div>
  </aside>`;
}

// "X is typing…" under the timeline, from the room's typing frames (each lasts 5 s). The line
// keeps its height when empty so that the timeline does not jump.
function TypingLine({ store, roomId }) {
  const now = Date.now();
  const names = Object.values(store.typing[roomId] || {}).filter((t) => t.until > now).map((t) => t.name);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  return html`<div class="typing muted small" aria-live="polite">${text}</div>`;
}

function MembersPanel({ store, roomId, ctx, onClose }) {
  const members = store.members[roomId];
  useEffect(() => {
    ctx.loadMembers(roomId);
    // Presence frames come only for DM partners: ask again for the others while the list is open.
    const t = setInterval(() => ctx.refreshPresence((store.members[roomId] || []).map((m) => m.id)), 30000);
    return () => clearInterval(t);
  }, [roomId]);
  const rank = { online: 0, away: 1 };
  const sorted = (members || []).slice().sort((a, b) =>
    ((rank[store.presence[a.id]] ?? 2) - (rank[store.presence[b.id]] ?? 2)) ||
    (a.display_name || a.username).localeCompare(b.display_name || b.username));
  return html`<aside class="panel" aria-label="Members">
    <div class="panel-head"><h2>Members</h2><button type="button" class="icon" aria-label="Close members" onClick=${onClose}>✕</button></div>
    <ul class="panel-body members" role="list">
      ${members === undefined ? html`<li class="muted">Loading…</li>` : sorted.map((m) => html`<li key=${m.id} data-user=${m.username}>
        <${PresenceDot} status=${store.presence[m.id]} />
        <span class="member-name">${m.display_name || m.username}</span> <span class="muted small">@${m.username}</span>
        ${m.role && m.role !== 'member' && html`<span class="muted small role">${m.role}</span>`}</li>`)}
    </ul>
  </aside>`;
}

/** The signed-in chat page. */
export function ChatView({ site, me: meAnswer, onSignOut }) {
  const me = meAnswer.user || {};
  const storeRef = useRef(null);
  if (!storeRef.current) {
    storeRef.current = { rooms: [], history: {}, threads: {}, members: {}, perms: {},
      typing: {}, // room id -> user id -> {name, until}
      presence: {}, // user id -> 'online' | 'away' | 'offline'
      userIds: {} }; // username -> user id, learned from member lists
    storeRef.current.presence[me.id] = 'online'; // this page is open; our own frames say when away
  }
  const store = storeRef.current;
  const [, setVersion] = useState(0);
  const bump = () => setVersion((v) => v + 1);
  const [current, setCurrent] = useState(null);
  const [panel, setPanel] = useState(null); // {kind:'thread', id} | {kind:'pins'} | {kind:'members'} | {kind:'search'}
  const [dialog, setDialog] = useState(null);
  const [browseQuery, setBrowseQuery] = useState(''); // what the directory opens with
  const [view, setView] = useState('chat');
  const [highlight, setHighlight] = useState(null);
  const [editId, setEditId] = useState(null);
  const [announce, setAnnounce] = useState('');
  const [offline, setOffline] = useState(false);
  const [notify, setNotify] = useState(typeof Notification !== 'undefined' && Notification.permission === 'granted');
  const currentRef = useRef(null);
  currentRef.current = current;
  const notifyRef = useRef(notify);
  notifyRef.current = notify;
  const liveRef = useRef(null); // startLive's handle: post(), typing(), presence()
  const switchRef = useRef(null); // {id, start}: a room switch being timed
  const presenceIds = useRef([]); // DM partners, whose dots the sidebar shows

  const room = store.rooms.find((r) => r.id === current);

  async function loadRooms() {
    const r = await api.get('/rooms');
    store.rooms = r.rooms || [];
    bump();
    return store.rooms;
  }

  // Presence of the people shown (DM partners, open member lists): asked once, then kept
  // current by the socket's presence frames.
  async function refreshPresence(ids) {
    const list = [...new Set(ids)].filter((id) => id && id !== me.id);
    for (let i = 0; i < list.length; i += 200) {
      try {
        const r = await api.get(`/presence?user_ids=${list.slice(i, i + 200).join(',')}`);
        Object.assign(store.presence, r.presence || {});
      } catch { return; } // an older server without presence: no dots
    }
    bump();
  }
  function learnMembers(roomId, members) {
    store.members[roomId] = members || [];
    for (const m of store.members[roomId]) store.userIds[m.username] = m.id;
    bump();
  }
  async function loadMembers(roomId) {
    try {
      const r = await api.get(`/rooms/${roomId}/members`);
      learnMembers(roomId, r.members);
      await refreshPresence(store.members[roomId].map((m) => m.id));
    } catch { /* the room is gone or unreachable: the panel says Loading, the next open retries */ }
  }
  // The ids of DM partners come from the DMs' member lists (the room list has names only).
  async function loadDmPartners() {
    const rooms = store.rooms.filter((r) => dmPartner(r, me.username) && !store.userIds[dmPartner(r, me.username)]);
    await Promise.all(rooms.map((r) => api.get(`/rooms/${r.id}/members`).then((x) => learnMembers(r.id, x.members), () => {})));
    presenceIds.current = store.rooms.map((r) => store.userIds[dmPartner(r, me.username)]).filter(Boolean);
    await refreshPresence(presenceIds.current);
  }

  function findMessage(roomId, id) {
    const h = store.history[roomId];
    return h && h.list.find((m) => m.id === id);
  }

  async function loadHistory(roomId, around) {
    const q = around ? `around=${around}` : '';
    const r = await api.get(`/rooms/${roomId}/messages?limit=50&${q}`);
    const rm = store.rooms.find((x) => x.id === roomId);
    store.history[roomId] = { list: (r.messages || []).slice().reverse(), older: r.older, newer: r.newer,
      readMarker: rm ? rm.last_read_seq : null };
    bump();
    // A jump leaves newer history unloaded: fetch forwards until the present.
    let newer = around && r.newer;
    while (newer) {
      const n = await api.get(`/rooms/${roomId}/messages?limit=100&cursor=${encodeURIComponent(newer)}`);
      const h = store.history[roomId];
      const ids = new Set(h.list.map((m) => m.id));
      h.list.push(...(n.messages || []).slice().reverse().filter((m) => !ids.has(m.id)));
      h.list.sort((a, b) => a.seq - b.seq);
      newer = n.newer && (n.messages || []).length ? n.newer : null;
      bump();
    }
  }

  async function loadOlder(roomId) {
    const h = store.history[roomId];
    if (!h || !h.older || h.loadingOlder) return;
    h.loadingOlder = true;
    bump();
    try {
      const r = await api.get(`/rooms/${roomId}/messages?limit=50&cursor=${encodeURIComponent(h.older)}`);
      const ids = new Set(h.list.map((m) => m.id));
      h.list = [...(r.messages || []).slice().reverse().filter((m) => !ids.has(m.id)), ...h.list];
      h.older = r.older;
      h.prepended = true;
    } finally {
      h.loadingOlder = false;
      bump();
    }
  }

  function markRead(roomId) {
    const rm = store.rooms.find((x) => x.id === roomId);
    const h = store.history[roomId];
    if (!rm || !h || document.hidden) return;
    const top = h.list.reduce((s, m) => Math.max(s, m.seq), 0);
    if (!top || (rm.last_read_seq >= top && !rm.unread && !rm.mentions)) return;
    rm.last_read_seq = top;
    rm.unread = 0;
    rm.mentions = 0;
    bump();
    api.put(`/rooms/${roomId}/read`, { seq: top }).catch(() => {});
  }

  async function openRoom(id, around) {
    // Room switch time: from here until the room's timeline is on screen (a layout effect below).
    switchRef.current = { id, start: performance.now() };
    setView('chat');
    setCurrent(id);
    if (location.hash !== `#/r/${id}` && !around) history.replaceState(null, '', `#/r/${id}`);
    if (!store.history[id] || around) {
      try { await loadHistory(id, around); } catch (e) { if (e.status === 404) { setCurrent(null); } return; }
    }
    if (!store.members[id]) api.get(`/rooms/${id}/members`).then((r) => learnMembers(id, r.members), () => {});
    if (!store.perms[id]) api.get(`/rooms/${id}`).then((r) => { store.perms[id] = r.room.permissions || {}; bump(); }, () => {});
    setTimeout(() => markRead(id), 300);
  }

  async function jump(messageId) {
    try {
      const r = await api.get(`/messages/${messageId}`);
      const m = r.message;
      const target = m.thread_root_id || m.id;
      await openRoom(m.room_id, target);
      setHighlight(target);
      if (m.thread_root_id) setPanel({ kind: 'thread', id: m.thread_root_id });
      history.replaceState(null, '', `#/m/${messageId}`);
    } catch {
      setAnnounce('That message could not be found.');
    }
  }

  // A room link from a message: open it when we are in it, else offer the public channel in
  // the directory (a private room we are not in reads as not found, like any other).
  async function openLinkedRoom(id) {
    if (store.rooms.some((r) => r.id === id)) { openRoom(id); return; }
    try {
      const r = await api.get(`/rooms/${id}`);
      setBrowseQuery(r.room.name || '');
      setDialog('browse');
    } catch {
      setAnnounce('That room could not be found.');
    }
  }

  // Message helpers shared by the timeline and thread panel.
  function upsert(msg) {
    const h = store.history[msg.room_id];
    if (h) {
      const i = h.list.findIndex((m) => m.id === msg.id || (msg.client_id && m.client_id === msg.client_id));
      if (i >= 0) h.list[i] = msg;
      else if (!h.newer) { h.list.push(msg); h.list.sort((a, b) => a.seq - b.seq); }
    }
    if (msg.thread_root_id && store.threads[msg.thread_root_id]) {
      const t = store.threads[msg.thread_root_id];
      const i = t.replies.findIndex((m) => m.id === msg.id || (msg.client_id && m.client_id === msg.client_id));
      if (i >= 0) t.replies[i] = msg; else t.replies.push(msg);
    }
    const t = store.threads[msg.id];
    if (t) t.root = msg;
  }
  function patchMessage(id, fn) {
    for (const h of Object.values(store.history)) for (const m of h.list) if (m.id === id) fn(m);
    for (const t of Object.values(store.threads)) {
      if (t.root.id === id) fn(t.root);
      for (const m of t.replies) if (m.id === id) fn(m);
    }
  }

  // Whether a message object is still shown (a placeholder is replaced by the server's copy).
  function shown(msg) {
    const h = store.history[msg.room_id];
    const t = msg.thread_root_id && store.threads[msg.thread_root_id];
    return (h && h.list.includes(msg)) || (t && t.replies.includes(msg));
  }

  // Sends over the socket when it is open, else (and for retries) through REST. Both carry the
  // same client_id, so a message the server already has is answered as a duplicate, never
  // stored twice.
  async function doSend(pending, retry) {
    pending.failed = false;
    pending.pending = true;
    bump();
    const lv = liveRef.current;
    if (!retry && lv && lv.live()) {
      try {
        const ack = await lv.post({ client_id: pending.client_id, room_id: pending.room_id, body: pending.body,
          thread_root_id: pending.thread_root_id || undefined });
        if (ack.not_in_room.length) setAnnounce(`Not in this room, so not notified: ${ack.not_in_room.join(', ')}`);
        // The message.created event replaces the placeholder; fetch it if that event is slow.
        setTimeout(() => {
          if (!shown(pending)) return;
          api.get(`/messages/${ack.message_id}`).then((r) => { if (shown(pending)) { upsert(r.message); bump(); } }, () => {});
        }, 2000);
        return;
      } catch (e) {
        if (e.status !== 0) { // refused: the REST route would refuse it too
          pending.failed = true;
          pending.pending = false;
          setAnnounce(`Message not sent: ${e.message}`);
          bump();
          return;
        }
        // Not sent over the socket (closed, no answer): REST below, same client_id.
      }
    }
    try {
      const r = await api.post(`/rooms/${pending.room_id}/messages`, { body: pending.body, client_id: pending.client_id,
        thread_root_id: pending.thread_root_id || undefined });
      upsert(r.message);
      if (r.not_in_room && r.not_in_room.length) setAnnounce(`Not in this room, so not notified: ${r.not_in_room.join(', ')}`);
    } catch (e) {
      pending.failed = true;
      pending.pending = false;
      if (e.status === 401) {
        // Signed out: the sign-in page replaces this one; keep the text as the room's draft.
        const key = `draft:${pending.room_id}:${pending.thread_root_id || ''}`;
        if (!sessionStorage.getItem(key)) sessionStorage.setItem(key, pending.body);
      } else setAnnounce(`Message not sent: ${e.message}`);
    }
    bump();
  }

  const ctx = {
    highlight, editId, findMessage, jump,
    clearEdit: () => setEditId(null),
    openThread: (id) => setPanel({ kind: 'thread', id }),
    loadOlder, markRead,
    act: async (fn) => {
      try { await fn(); } catch (e) { if (e.status !== 401) setAnnounce(e.message); }
    },
    send(roomId, body, threadId) {
      const pending = { id: `c-${uuid()}`, client_id: uuid(), room_id: roomId, body, thread_root_id: threadId || null,
        author: { id: me.id, username: me.username, display_name: me.display_name }, created_at: new Date().toISOString(),
        seq: Number.MAX_SAFE_INTEGER, reactions: [], reply_count: 0 };
      const h = store.history[roomId];
      if (threadId) { const t = store.threads[threadId]; if (t) t.replies.push(pending); } else if (h) h.list.push(pending);
      doSend(pending);
    },
    retry: (msg) => doSend(msg, true),
    typing: (roomId) => { if (liveRef.current) liveRef.current.typing(roomId); },
    loadMembers, refreshPresence,
    editLast(roomId, threadId) {
      const list = threadId ? (store.threads[threadId] || { replies: [] }).replies : (store.history[roomId] || { list: [] }).list;
      const mine = list.filter((m) => who(m).username === me.username && !m.deleted && !m.pending && !m.failed && !(threadId ? false : m.thread_root_id));
      if (mine.length) setEditId(mine[mine.length - 1].id);
    },
    async toggleReaction(msg, emoji) {
      const r = (msg.reactions || []).find((x) => x.emoji === emoji);
      try {
        if (r && r.mine) await api.del(`/messages/${msg.id}/reactions/${encodeURIComponent(emoji)}`);
        else await api.post(`/messages/${msg.id}/reactions`, { emoji });
        const fresh = await api.get(`/messages/${msg.id}`);
        upsert(fresh.message);
        bump();
      } catch (e) { if (e.status !== 401) setAnnounce(e.message); }
    },
    async loadThread(id) {
      try {
        const r = await api.get(`/messages/${id}/thread?limit=200`);
        store.threads[id] = { root: r.root, replies: r.replies || [], following: store.threads[id] && store.threads[id].following };
        bump();
      } catch (e) { if (e.status !== 401) setAnnounce(e.message); }
    },
    async follow(id, following) {
      try { await api.put(`/messages/${id}/follow`, { following }); store.threads[id].following = following; bump(); } catch (e) { setAnnounce(e.message); }
    },
  };

  // Live events.
  function applyEvents(events) {
    let roomsChanged = false;
    for (const ev of events) {
      const d = ev.data || {};
      const rm = store.rooms.find((r) => r.id === (ev.room_id || d.room_id));
      switch (ev.type) {
        case 'message.created':
        case 'thread.reply': {
          const m = d.message;
          if (!m) break;
          upsert(m);
          if (store.typing[m.room_id]) delete store.typing[m.room_id][who(m).id]; // done typing
          if (m.thread_root_id) {
            patchMessage(m.thread_root_id, (root) => {
              if (ev.type === 'thread.reply' || !root._counted?.[m.id]) {
                root._counted = root._counted || {};
                if (!root._counted[m.id]) { root._counted[m.id] = 1; root.reply_count = (root.reply_count || 0) + (d.root ? 0 : 1); }
              }
            });
            if (d.root) upsert(d.root);
          }
          if (rm) {
            rm.last_seq = Math.max(rm.last_seq || 0, m.seq);
            rm.last_message_at = m.created_at;
            const mineMsg = who(m).username === me.username;
            const visible = rm.id === currentRef.current && !document.hidden;
            if (!mineMsg && !visible && !m.thread_root_id) {
              rm.unread = (rm.unread || 0) + 1;
            }
            if (!mineMsg && rm.id === currentRef.current) {
              if (!m.thread_root_id) setAnnounce(`${who(m).display_name || who(m).username}: ${m.body.slice(0, 200)}`);
              setTimeout(() => markRead(rm.id), 500);
            }
          } else roomsChanged = true;
          break;
        }
        case 'message.edited':
        case 'message.deleted':
        case 'message.pinned':
        case 'message.unpinned':
          if (d.message) upsert(d.message);
          else if (d.message_id) patchMessage(d.message_id, (m) => {
            if (ev.type === 'message.deleted') { m.deleted = true; m.body = ''; }
            if (ev.type === 'message.pinned') m.pinned = true;
            if (ev.type === 'message.unpinned') m.pinned = false;
          });
          break;
        case 'reaction.added':
        case 'reaction.removed': {
          const id = d.message_id || (d.message && d.message.id);
          if (d.message) upsert(d.message);
          else if (id && d.emoji) patchMessage(id, (m) => {
            m.reactions = m.reactions || [];
            let r = m.reactions.find((x) => x.emoji === d.emoji);
            const mine = d.username === me.username || d.user_id === me.id;
            if (ev.type === 'reaction.added') {
              if (!r) { r = { emoji: d.emoji, count: 0, mine: false }; m.reactions.push(r); }
              if (!(mine && r.mine)) r.count += 1;
              if (mine) r.mine = true;
            } else if (r) {
              r.count -= 1;
              if (mine) r.mine = false;
              if (r.count <= 0) m.reactions = m.reactions.filter((x) => x !== r);
            }
          });
          break;
        }
        case 'read.moved':
          roomsChanged = true; // the server counts what is left unread
          break;
        case 'notification': {
          // The server decides who is notified (mentions, DMs, followed threads).
          const visible = rm && rm.id === currentRef.current && !document.hidden;
          if (visible) break;
          // A first DM from someone is in no room we know yet: count it once the list is fetched
          // again, but notify now.
          if (rm) rm.mentions = (rm.mentions || 0) + 1; else roomsChanged = true;
          if (notifyRef.current && typeof Notification !== 'undefined' && Notification.permission === 'granted' && d.message_id) {
            api.get(`/messages/${d.message_id}`).then((r) => {
              const m = r.message;
              const room = store.rooms.find((x) => x.id === m.room_id);
              const label = room ? roomLabel(room, me.username) : 'a direct message';
              const title = d.kind === 'dm' || (room && isDirect(room)) ? `${who(m).display_name || who(m).username}` : `${who(m).display_name || who(m).username} in ${label}`;
              const n = new Notification(title, { body: m.body.slice(0, 140), tag: `m${m.id}` });
              n.onclick = () => { window.focus(); jump(m.id); n.close(); };
            }, () => {});
          }
          break;
        }
        case 'read.all':
          for (const r of store.rooms) { r.unread = 0; r.mentions = 0; }
          break;
        case 'room.deleted':
        case 'member.removed':
          if (ev.type === 'room.deleted' || d.user_id === me.id) {
            if (ev.room_id === currentRef.current) setCurrent(null);
          }
          roomsChanged = true;
          break;
        case 'room.updated':
          if (rm && d.room) Object.assign(rm, d.room);
          else roomsChanged = true;
          break;
        case 'member.added':
        case 'member.role_changed':
          delete store.members[ev.room_id];
          roomsChanged = true;
          if (ev.room_id === currentRef.current) api.get(`/rooms/${ev.room_id}/members`).then((r) => { store.members[ev.room_id] = r.members; bump(); }, () => {});
          break;
        case 'room.created':
        case 'room.archived':
        case 'room.unarchived':
          roomsChanged = true;
          break;
        default:
          break;
      }
    }
    if (roomsChanged) loadRooms().then(loadDmPartners, () => {});
    bump();
  }

  // Typing and presence frames from the socket.
  function applyFrame(f) {
    if (f.type === 'typing') {
      if (f.user_id === me.id || !f.room_id) return;
      const members = store.members[f.room_id] || [];
      const who = members.find((m) => m.id === f.user_id);
      const room = (store.typing[f.room_id] = store.typing[f.room_id] || {});
      room[f.user_id] = { name: (who && (who.display_name || who.username)) || f.username || 'Someone', until: Date.now() + 5000 };
      setTimeout(bump, 5050); // the line expires by itself
      bump();
    } else if (f.type === 'presence' && f.user_id) {
      store.presence[f.user_id] = f.status;
      bump();
    }
  }

  // Too much missed for the events to catch up: fetch rooms and the open room again.
  function reloadState() {
    store.history = {};
    store.threads = {};
    store.typing = {};
    loadRooms().then(() => {
      if (currentRef.current) openRoom(currentRef.current);
      loadDmPartners();
    }, () => {});
  }

  // Start: rooms, the room from the URL (or the first), live updates.
  useEffect(() => {
    let stop = () => {};
    let wasOffline = false;
    (async () => {
      try {
        const rooms = await loadRooms();
        stop = startLive({
          onEvents: applyEvents,
          onFrame: applyFrame,
          onReload: reloadState,
          onStatus: (ok) => {
            setOffline(!ok);
            // Presence frames sent while we were away are lost: ask again.
            if (ok && wasOffline) refreshPresence(presenceIds.current);
            wasOffline = !ok;
          },
        });
        liveRef.current = stop;
        presenceWatch();
        loadDmPartners();
        const h = location.hash;
        const mm = h.match(/^#\/m\/(\d+)/);
        const rr = h.match(/^#\/r\/(\d+)/);
        if (mm) jump(Number(mm[1]));
        else if (rr && rooms.some((r) => r.id === Number(rr[1]))) openRoom(Number(rr[1]));
        else if (h.startsWith('#/admin') && mayOpenConsole(meAnswer)) setView('admin');
        else if (rooms.length) openRoom((rooms.find((r) => r.default) || rooms[0]).id);
      } catch (e) { if (e.status !== 401) setAnnounce(e.message); }
    })();
    // Links in messages: permalinks (#/m/ID) and room links (#/r/ID, from #room in the composer).
    const onHash = () => {
      const m = location.hash.match(/^#\/m\/(\d+)/);
      const r = location.hash.match(/^#\/r\/(\d+)$/);
      if (m) jump(Number(m[1]));
      else if (r && Number(r[1]) !== currentRef.current) openLinkedRoom(Number(r[1]));
    };
    const onVis = () => { if (!document.hidden && currentRef.current) markRead(currentRef.current); };
    window.addEventListener('hashchange', onHash);
    document.addEventListener('visibilitychange', onVis);
    return () => { stop(); liveRef.current = null; window.removeEventListener('hashchange', onHash); document.removeEventListener('visibilitychange', onVis); };
  }, []);

  // Presence: away while the page is hidden or nothing happened for 5 minutes, online again on
  // the next sign of life.
  const idleRef = useRef({ idle: false, timer: 0, last: 0 });
  function presenceWatch() {
    const lv = liveRef.current;
    if (lv) lv.presence(document.hidden || idleRef.current.idle ? 'away' : 'online');
  }
  useEffect(() => {
    const st = idleRef.current;
    const arm = () => {
      clearTimeout(st.timer);
      st.timer = setTimeout(() => { st.idle = true; presenceWatch(); }, 5 * 60000);
    };
    const activity = () => {
      const now = Date.now();
      if (!st.idle && now - st.last < 1000) return; // mousemove fires often; a timer reset a second is plenty
      st.last = now;
      if (st.idle) { st.idle = false; presenceWatch(); }
      // Input on the page is what keeps the session from idling out (not the background requests).
      if (liveRef.current) liveRef.current.active();
      arm();
    };
    const events = ['mousemove', 'pointerdown', 'keydown', 'wheel', 'touchstart', 'focus'];
    for (const e of events) window.addEventListener(e, activity, { passive: true });
    document.addEventListener('visibilitychange', presenceWatch);
    arm();
    return () => {
      clearTimeout(st.timer);
      for (const e of events) window.removeEventListener(e, activity);
      document.removeEventListener('visibilitychange', presenceWatch);
    };
  }, []);

  // Room switch time, measured from openRoom to the room's timeline on screen; the first one
  // (after sign-in) is also when the chat became usable.
  useLayoutEffect(() => {
    const sw = switchRef.current;
    if (!sw || sw.id !== current || !store.history[current] || view !== 'chat') return;
    switchRef.current = null;
    performance.measure('outpost:room-switch', { start: sw.start });
    if (!performance.getEntriesByName('outpost:chat-ready').length) performance.mark('outpost:chat-ready');
  });

  // Keyboard: Alt+Up/Down between rooms, Escape closes panels and dialogs.
  useEffect(() => {
    function onKey(e) {
      if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
        const links = [...document.querySelectorAll('.sidebar .room-link')].map((a) => Number(a.dataset.room));
        if (!links.length) return;
        e.preventDefault();
        const i = links.indexOf(currentRef.current);
        const next = links[(i + (e.key === 'ArrowUp' ? -1 : 1) + links.length) % links.length];
        openRoom(next);
      } else if (e.key === 'Escape' && !e.defaultPrevented) {
        if (dialog) setDialog(null); else if (panel) setPanel(null);
      }
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  // Tab title: total unread.
  const totalUnread = store.rooms.reduce((s, r) => s + (r.unread || 0), 0);
  useEffect(() => {
    document.title = totalUnread ? `(${totalUnread}) ${site.name}` : site.name;
  }, [totalUnread, site.name]);

  const opened = (id) => { setDialog(null); loadRooms().then(() => openRoom(id)); };
  const perms = (room && store.perms[room.id]) || {};
  const canPost = room && !room.archived && perms.post !== false;
  const name = me.display_name || me.username;

  return html`
    <header class="topbar chat-top">
      <div class="brand"><${Logo} size=${24} /><span>${site.name}</span></div>
      <div class="top-actions">
        ${offline && html`<span class="offline" role="status">Reconnecting…</span>`}
        ${!notify && typeof Notification !== 'undefined' && Notification.permission !== 'denied' && html`<button type="button" class="link"
          onClick=${() => Notification.requestPermission().then((p) => setNotify(p === 'granted'))}>Enable notifications</button>`}
        ${mayOpenConsole(meAnswer) && html`<button type="button" class="link" onClick=${() => {
          const next = view === 'admin' ? 'chat' : 'admin';
          setView(next);
          history.replaceState(null, '', next === 'admin' ? '#/admin' : current ? `#/r/${current}` : '#/');
        }}>${view === 'admin' ? 'Back to chat' : 'Admin console'}</button>`}
        <a class="link" href="#/security">Security</a>
        <span class="account"><span class="avatar small-avatar" aria-hidden="true">${initials(name)}</span><span class="account-name">${name}</span></span>
        <button type="button" class="secondary small-btn" onClick=${() => onSignOut().catch(() => {})}>Sign out</button>
      </div>
    </header>
    <div class="chat">
      <${Sidebar} store=${store} me=${me.username} current=${view === 'chat' ? current : null} onOpen=${openRoom} onDialog=${setDialog} />
      ${view === 'admin' ? html`<${AdminView} me=${me} site=${site} initialTab=${tabFromHash(location.hash)} />` : html`<main class="room" id="main" aria-label="Room">
        ${room ? html`<div class="room-head">
            <div class="room-title"><h1>${isDirect(room) ? '' : room.kind === 'private' ? '🔒 ' : '# '}${roomLabel(room, me.username)}</h1>
              ${room.topic && html`<span class="muted topic">${room.topic}</span>`}</div>
            <div class="room-tools">
              <button type="button" class="icon" aria-label=${room.starred ? 'Unstar room' : 'Star room'} aria-pressed=${room.starred ? 'true' : 'false'}
                onClick=${() => ctx.act(async () => { await api.put(`/rooms/${room.id}/star`, { starred: !room.starred }); room.starred = !room.starred; bump(); })}>${room.starred ? '★' : '☆'}</button>
              <button type="button" class="secondary small-btn" onClick=${() => setPanel(panel && panel.kind === 'members' ? null : { kind: 'members' })}>Members</button>
              <button type="button" class="secondary small-btn" onClick=${() => setPanel(panel && panel.kind === 'pins' ? null : { kind: 'pins' })}>Pins</button>
              <button type="button" class="secondary small-btn" onClick=${() => setPanel(panel && panel.kind === 'search' ? null : { kind: 'search' })}>Search</button>
            </div></div>
          <${Timeline} store=${store} room=${room} me=${me} ctx=${ctx} />
          <${TypingLine} store=${store} roomId=${room.id} />
          <${Composer} roomId=${room.id} me=${me} ctx=${ctx} members=${store.members[room.id]} rooms=${store.rooms} disabled=${!canPost}
            label=${`Message ${isDirect(room) ? roomLabel(room, me.username) : '#' + room.name}`} />`
        : html`<div class="center muted">${store.rooms.length ? 'Pick a room.' : 'Join a channel to start.'}
            <button type="button" class="link" onClick=${() => setPanel({ kind: 'search' })}>Search</button></div>`}
      </main>
      ${panel && panel.kind === 'thread' && html`<${ThreadPanel} store=${store} rootId=${panel.id} me=${me} ctx=${ctx} onClose=${() => setPanel(null)} />`}
      ${panel && panel.kind === 'members' && room && html`<${MembersPanel} store=${store} roomId=${room.id} ctx=${ctx} onClose=${() => setPanel(null)} />`}
      ${panel && panel.kind === 'pins' && room && html`<${PinsPanel} roomId=${room.id} ctx=${ctx} onClose=${() => setPanel(null)} />`}
      ${panel && panel.kind === 'search' && html`<${SearchPanel} ctx=${ctx} onClose=${() => setPanel(null)} />`}`}
    </div>
    <div class="sr-only" aria-live="polite" aria-atomic="true">${announce}</div>
    ${dialog === 'browse' && html`<${BrowseDialog} initialQuery=${browseQuery} onClose=${() => { setDialog(null); setBrowseQuery(''); }} onJoined=${opened} />`}
    ${dialog === 'channel' && html`<${NewChannelDialog} onClose=${() => setDialog(null)} onCreated=${opened} />`}
    ${dialog === 'dm' && html`<${NewMessageDialog} me=${me.username} onClose=${() => setDialog(null)} onCreated=${opened} />`}`;
}
