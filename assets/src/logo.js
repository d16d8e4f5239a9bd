import { html } from 'htm/preact';

/** The Outpost mark (the favicon's shape), decorative: the site name beside it is the text. */
export function Logo({ size = 32 }) {
  return html`<svg class="logo" width=${size} height=${size} viewBox="0 0 32 32" aria-hidden="true" focusable="false">
    <rect width="32" height="32" rx="7" class="logo-bg" />
    <path class="logo-fg" d="M9 7.5h14a3.5 3.5 0 0 1 3.5 3.5v8a3.5 3.5 0 0 1-3.5 3.5h-7.2L10 27v-4.5H9A3.5 3.5 0 0 1 5.5 19v-8A3.5 3.5 0 0 1 9 7.5z" />
    <path class="logo-bg" d="M11 12.5h10v2H11zm0 4h7v2h-7z" />
  </svg>`;
}
