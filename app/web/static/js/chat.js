// The conversation: ask, render the answer as it streams, show how it was made (answer mode, a
// refusal's reason), and stop it. Stopping aborts the fetch; the server notices the closed
// connection and stops the model (proved by the model's token counter in the browser test).

import { ApiError, streamChat } from './api.js';
import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { showSources } from './sources.js';

const transcript = () => document.getElementById('transcript');

/** One question and its answer in the transcript; updated in place while the answer streams. */
class Turn {
  constructor(question) {
    this.text = '';
    this.sources = [];
    this.meta = h('p', { class: 'meta' });
    this.body = h('div', { class: 'answer-body' });
    this.sourcesButton = h(
      'button',
      { type: 'button', class: 'show-sources', hidden: true, onclick: () => showSources(this.sources) },
      'Show sources',
    );
    this.answer = h('div', { class: 'answer', 'aria-busy': 'true' }, this.meta, this.body, this.sourcesButton);
    this.element = h(
      'li',
      { class: 'turn' },
      h('div', { class: 'question' }, h('span', { class: 'who' }, 'You'), h('p', {}, question)),
      this.answer,
    );
    transcript().append(this.element);
  }

  setSources(sources) {
    this.sources = Array.isArray(sources) ? sources : [];
    this.sourcesButton.hidden = this.sources.length === 0;
    this.sourcesButton.textContent = `Show sources (${this.sources.length})`;
    showSources(this.sources);
  }

  setContext(context) {
    if (!context || typeof context !== 'object') return;
    const parts = [];
    if (typeof context.answer_mode === 'string') {
      parts.push(h('span', { class: 'badge mode' }, `mode: ${context.answer_mode}`));
    }
    if (context.refused) {
      const reason = typeof context.refusal_reason === 'string' ? context.refusal_reason : 'no reason given';
      parts.push(h('span', { class: 'badge refused' }, 'refused'), h('span', { class: 'reason' }, reason));
    }
    if (context.fallback === 'extract') parts.push(h('span', { class: 'badge' }, 'fell back to extract'));
    if (parts.length) this.meta.replaceChildren(...parts);
  }

  addToken(token) {
    this.text += token;
    renderMarkdown(this.body, this.text);
  }

  /** Set the whole answer at once (a stored conversation, or the server's final text). */
  setText(text) {
    this.text = text;
    renderMarkdown(this.body, text);
  }

  end(note, kind = 'note') {
    this.answer.setAttribute('aria-busy', 'false');
    if (note) this.answer.append(h('p', { class: kind }, note));
  }
}

/** The asking side of the page: one question in flight at a time, stoppable. */
export class Chat {
  constructor({ onAnswered, onAuthError, sessions }) {
    this.onAnswered = onAnswered;
    this.onAuthError = onAuthError;
    this.sessions = sessions;
    this.controller = null;
    this.form = document.getElementById('ask-form');
    this.box = document.getElementById('question');
    this.stopButton = document.getElementById('stop');
    this.sendButton = document.getElementById('send');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.ask();
    });
    this.box.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.ask();
      }
    });
    this.stopButton.addEventListener('click', () => this.stop());
    // The page ships with Ask disabled: clicked before this wiring, the plain form would submit
    // itself as a GET and reload the page, losing the question.
    this.sendButton.disabled = false;
  }

  get busy() {
    return this.controller !== null;
  }

  stop() {
    if (this.controller) this.controller.abort();
  }

  /** Replace the transcript with a stored conversation's messages. */
  showConversation(messages) {
    transcript().replaceChildren();
    showSources([]);
    let turn = null;
    for (const message of Array.isArray(messages) ? messages : []) {
      if (message?.role === 'user') {
        turn = new Turn(String(message.content ?? ''));
      } else if (message?.role === 'assistant' && turn) {
        turn.setText(String(message.content ?? ''));
        if (Array.isArray(message.sources)) turn.setSources(message.sources);
        turn.end();
        turn = null;
      }
    }
    if (turn) turn.end('(no answer was stored)');
  }

  clear() {
    transcript().replaceChildren();
    showSources([]);
  }

  async ask() {
    const question = this.box.value.trim();
    if (!question || this.busy) return;
    this.box.value = '';
    const turn = new Turn(question);
    turn.element.scrollIntoView({ block: 'nearest' });
    const sessionId = this.sessions.currentId();
    this.controller = new AbortController();
    this.stopButton.disabled = false;
    this.sendButton.disabled = true;
    try {
      for await (const { event, data } of streamChat(question, sessionId, this.controller.signal)) {
        if (event === 'sources') turn.setSources(data);
        else if (event === 'context') turn.setContext(data);
        else if (event === 'token' && typeof data === 'string') turn.addToken(data);
        else if (event === 'done') {
          if (typeof data?.answer === 'string' && data.answer !== turn.text) turn.setText(data.answer);
          turn.setContext(data?.context);
        } else if (event === 'error') {
          turn.end(typeof data?.message === 'string' ? data.message : 'the answer failed', 'error');
          return;
        }
      }
      turn.end();
    } catch (error) {
      if (error?.name === 'AbortError') {
        turn.end('Stopped.');
      } else {
        turn.end(error instanceof ApiError ? error.message : `The request failed: ${error?.message}`, 'error');
        if (error instanceof ApiError && error.status === 401) this.onAuthError(error);
      }
    } finally {
      this.controller = null;
      this.stopButton.disabled = true;
      this.sendButton.disabled = false;
      this.box.focus();
      this.onAnswered();
    }
  }
}
