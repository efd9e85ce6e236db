// A chain's live events (SSE). EventSource reconnects by itself and resumes
// with Last-Event-ID; when the server refuses the stream outright, we open a
// new one from the last event seen after a pause. onStatus is told "live",
// "reconnecting" or "closed".

import { parseJSON } from "./api.js";

export function watchChain(chainId, { onEvent, onStatus }) {
  let source = null;
  let last = 0;
  let stopped = false;
  let retry = null;

  const open = () => {
    source = new EventSource(`/api/chains/${chainId}/events?after=${last}`);
    source.onopen = () => onStatus("live");
    source.onerror = () => {
      if (stopped) return;
      onStatus("reconnecting");
      // CLOSED: the server refused the stream, so EventSource won't retry by itself.
      if (source.readyState === EventSource.CLOSED) retry = setTimeout(open, 2000);
    };
    const handle = (message) => {
      const seq = Number(message.lastEventId);
      if (seq && seq <= last) return;
      last = seq || last;
      onEvent(message.type, parseJSON(message.data));
    };
    for (const kind of ["chain.created", "node.created", "node.updated", "node.committed", "node.discarded", "stems.updated",
      "chain.deleted", "node.uncommitted", "node.restored", "chain.renamed", "history.changed"]) {
      source.addEventListener(kind, handle);
    }
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (source) source.close();
    onStatus("closed");
  };
}
