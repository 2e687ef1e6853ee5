// Server-Sent Events read from a fetch() body. EventSource cannot POST a question or send an
// Authorization header, so /chat/stream is read with fetch and parsed here (the WHATWG event-stream
// rules: "event:" and "data:" fields, several data lines joined by "\n", ":" comments ignored,
// an event ends at a blank line, lines end with \n, \r\n or \r).

/** Incremental parser: feed it decoded text as it arrives, get the complete events so far. */
export class SseParser {
  constructor() {
    this.buffer = '';
    this.event = '';
    this.data = [];
  }

  /** Parse ``text`` (any slice of the stream) and return the events it completed. */
  push(text) {
    this.buffer += text;
    const events = [];
    // a trailing "\r" may be the first half of "\r\n": keep it until more arrives
    const lines = this.buffer.split(/\r\n|\n|\r(?!$)/);
    this.buffer = lines.pop();
    for (const line of lines) {
      const done = this.line(line);
      if (done) events.push(done);
    }
    return events;
  }

  line(line) {
    if (line === '') {
      if (!this.data.length) {
        this.event = '';
        return null;
      }
      const complete = { event: this.event || 'message', data: this.data.join('\n') };
      this.event = '';
      this.data = [];
      return complete;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return null;
  }
}

/** Yield {event, data} from a fetch Response whose body is an event stream. */
export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(`${decoder.decode()}\n\n`);
  } finally {
    reader.releaseLock();
  }
}
