// Entry point: styles, then the app mounted on #app (index.html has no inline script).
import './styles.css';
import { render } from 'preact';
import { html } from 'htm/preact';
import { App } from './app.js';

render(html`<${App} />`, document.getElementById('app'));
