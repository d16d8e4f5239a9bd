import { html } from 'htm/preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

// Relative luminance (WCAG 2) of an sRGB colour with 0-255 channels.
function luminance(r, g, b) {
  const lin = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/**
 * The classification banner the site configures, shown at the top and bottom of every page.
 * The colour is any CSS colour; the text turns black or white, whichever contrasts more.
 * Colours go through the CSSOM (el.style), which the CSP allows, never a style attribute.
 */
export function Banner({ banner, position }) {
  const ref = useRef(null);
  const { text, color } = banner;
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.backgroundColor = '';
    el.style.color = '';
    if (!color || !CSS.supports('color', color)) return;
    el.style.backgroundColor = color;
    const rgb = getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
    if (rgb && rgb.length >= 3) {
      const [r, g, b] = rgb.map(Number);
      el.style.color = luminance(r, g, b) > 0.179 ? '#000' : '#fff';
    }
  }, [text, color]);
  if (!text) return null;
  // Screen readers hear the banner once, at the top.
  return position === 'top'
    ? html`<div ref=${ref} class="banner banner-top" role="region" aria-label="Classification">${text}</div>`
    : html`<div ref=${ref} class="banner banner-bottom" aria-hidden="true">${text}</div>`;
}
