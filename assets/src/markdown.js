// Message Markdown: marked renders, DOMPurify keeps a strict allowlist. No images at all (so
// nothing is fetched from any origin), links open in a new tab without referrer or opener,
// and @mentions outside code are wrapped in <span class="mention">. Links to a room
// (#/r/ID, what the composer's #room completion inserts) or a message (#/m/ID) stay in the app.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const marked = new Marked({ gfm: true, breaks: true, async: false });

const ALLOWED_TAGS = ['p', 'br', 'strong', 'em', 'del', 's', 'code', 'pre', 'blockquote', 'ul', 'ol',
  'li', 'a', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span'];
const SAFE_URL = /^(?:https?:|mailto:|#\/)/i;

const ROOM_LINK = /^#\/r\/\d{1,18}$/;
const MESSAGE_LINK = /^#\/m\/\d{1,18}$/;

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    const href = node.getAttribute('href') || '';
    if (!SAFE_URL.test(href)) node.removeAttribute('href');
    if (ROOM_LINK.test(href) || MESSAGE_LINK.test(href)) {
      // In-app links (from #room in the composer, or a pasted permalink) stay in this tab: the
      // chat follows the hash. Any other '#/' link is dropped rather than guessed at.
      node.removeAttribute('target');
      node.setAttribute('class', ROOM_LINK.test(href) ? 'room-ref' : 'message-ref');
      return;
    }
    if (href.startsWith('#/')) node.removeAttribute('href');
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const MENTION = /(^|[^\w@])(@[A-Za-z0-9_.-]+)/g;

function markMentions(root, me) {
  const walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && n.parentElement.closest('code,pre,a')) continue;
    if (n.nodeValue.includes('@')) nodes.push(n);
  }
  for (const n of nodes) {
    const text = n.nodeValue;
    const frag = root.ownerDocument.createDocumentFragment();
    let last = 0;
    text.replace(MENTION, (m, pre, name, offset) => {
      const start = offset + pre.length;
      frag.append(text.slice(last, start));
      const span = root.ownerDocument.createElement('span');
      const who = name.slice(1).replace(/[.-]+$/, '');
      span.className = (who === me || ['all', 'here', 'channel'].includes(who)) ? 'mention mention-me' : 'mention';
      span.textContent = name;
      frag.append(span);
      last = start + name.length;
      return m;
    });
    frag.append(text.slice(last));
    n.replaceWith(frag);
  }
}

const cache = new Map();

/** Safe HTML for a message body; `me` is the signed-in user name (their mentions stand out). */
export function renderMarkdown(body, me) {
  const key = me + '\u0000' + body;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const raw = marked.parse(String(body || ''));
  const root = DOMPurify.sanitize(raw, {
    ALLOWED_TAGS, ALLOWED_ATTR: ['href', 'title'], ALLOW_DATA_ATTR: false, RETURN_DOM: true,
  });
  markMentions(root, me);
  const out = root.innerHTML;
  if (cache.size > 2000) cache.clear();
  cache.set(key, out);
  return out;
}

/** A search snippet: escaped text, with U+E000..U+E001 turned into <mark>. */
export function renderSnippet(snippet) {
  const esc = String(snippet || '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return esc.replace(/\uE000/g, '<mark>').replace(/\uE001/g, '</mark>');
}
