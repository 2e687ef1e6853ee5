// The conversations sidebar over /sessions: list, open, delete, new. A conversation's id is made
// here (the server stores a session the first time a question names it), so "New conversation"
// needs no round trip and follow-ups in it are understood from the stored turns.

import { request } from './api.js';
import { h, randomId } from './dom.js';

const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export class Sessions {
  constructor({ onOpen, onNew, onError }) {
    this.onOpen = onOpen;
    this.onNew = onNew;
    this.onError = onError;
    this.current = `web-${randomId()}`;
    this.list = document.getElementById('session-list');
    document.getElementById('new-session').addEventListener('click', () => this.startNew());
  }

  currentId() {
    return this.current;
  }

  startNew() {
    this.current = `web-${randomId()}`;
    this.onNew();
    this.markCurrent();
  }

  markCurrent() {
    for (const item of this.list.querySelectorAll('[data-session-id]')) {
      const open = item.querySelector('.session-open');
      if (item.dataset.sessionId === this.current) open.setAttribute('aria-current', 'true');
      else open.removeAttribute('aria-current');
    }
  }

  /** Reload the list from the server (most recent first). */
  async refresh() {
    let body;
    try {
      body = await request('GET', '/sessions');
    } catch (error) {
      this.onError(error);
      return;
    }
    const sessions = Array.isArray(body?.sessions) ? body.sessions : [];
    this.list.replaceChildren(
      ...sessions
        .filter((s) => typeof s?.session_id === 'string' && SESSION_ID.test(s.session_id))
        .map((s) => this.item(s)),
    );
    this.markCurrent();
  }

  item(session) {
    const id = session.session_id;
    const title = typeof session.title === 'string' && session.title ? session.title : id;
    const count = Number.isInteger(session.messages) ? ` (${session.messages} messages)` : '';
    return h(
      'li',
      { 'data-session-id': id },
      h('button', { type: 'button', class: 'session-open', title: `${title}${count}`, onclick: () => this.open(id) }, title),
      h(
        'button',
        { type: 'button', class: 'session-delete', 'aria-label': `Delete conversation: ${title}`, onclick: () => this.remove(id) },
        '×',
      ),
    );
  }

  async open(id) {
    try {
      const session = await request('GET', `/sessions/${encodeURIComponent(id)}`);
      this.current = id;
      this.onOpen(session?.messages);
      this.markCurrent();
    } catch (error) {
      this.onError(error);
    }
  }

  async remove(id) {
    try {
      await request('DELETE', `/sessions/${encodeURIComponent(id)}`);
    } catch (error) {
      this.onError(error);
      return;
    }
    if (id === this.current) this.startNew();
    await this.refresh();
  }
}
