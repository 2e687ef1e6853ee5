// Start-up: read /ui/config (public), ask for an API key when the server needs one, then wire the
// conversation, the sidebar and the documents panel together.

import { ApiError, apiKey, request } from './api.js';
import { Chat } from './chat.js';
import { Documents } from './documents.js';
import { Sessions } from './sessions.js';

const status = (text, kind = '') => {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = `status ${kind}`;
};

async function start() {
  const config = await request('GET', '/ui/config');
  const keyForm = document.getElementById('key-form');
  const keyInput = document.getElementById('api-key');
  const question = document.getElementById('question');
  question.maxLength = Number.isInteger(config.max_question_chars) ? config.max_question_chars : 4000;

  const askForKey = (message) => {
    keyForm.hidden = false;
    status(message, 'error');
    keyInput.focus();
  };
  const onError = (error) => {
    if (error instanceof ApiError && error.status === 401) askForKey(`API key needed: ${error.message}`);
    else status(error?.message ?? String(error), 'error');
  };

  const sessions = new Sessions({
    onOpen: (messages) => chat.showConversation(messages),
    onNew: () => {
      chat.clear();
      question.focus();
    },
    onError,
  });
  const chat = new Chat({ sessions, onAuthError: onError, onAnswered: () => sessions.refresh() });
  const documents = config.documents_api
    ? new Documents({ onError, onChanged: () => status('Documents updated.', 'ok') })
    : null;
  if (!documents) document.querySelector('.documents').hidden = true;

  const loadLists = async () => {
    await sessions.refresh();
    if (documents) await documents.refresh();
  };

  if (config.auth_required) {
    keyForm.hidden = false;
    keyInput.value = apiKey.get();
    keyForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!keyInput.value.trim()) return;
      apiKey.set(keyInput.value);
      status('Key saved in this browser.', 'ok');
      await loadLists();
      question.focus();
    });
    document.getElementById('key-forget').addEventListener('click', () => {
      apiKey.clear();
      keyInput.value = '';
      askForKey('Key forgotten. Enter an API key to continue.');
    });
    if (!apiKey.get()) {
      askForKey('This server needs an API key (ask an admin: rag-admin create-key --user NAME).');
      return;
    }
  }
  await loadLists();
}

start()
  .catch((error) => status(`The app could not start: ${error?.message ?? error}`, 'error'))
  .finally(() => {
    document.body.dataset.ready = 'true';
  });
