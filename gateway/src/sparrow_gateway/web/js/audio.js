// Decoded audio, cached by URL: one fetch per node (the cookie signs it), then
// the same AudioBuffer feeds the waveform and every kind of playback.

let context = null;
const buffers = new Map();

export function audioContext() {
  if (!context) context = new AudioContext();
  if (context.state === "suspended") context.resume();
  return context;
}

export function loadBuffer(url) {
  if (!buffers.has(url)) {
    const loading = fetch(url, { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`the audio could not be read (${response.status})`);
        return response.arrayBuffer();
      })
      .then((data) => audioContext().decodeAudioData(data));
    loading.catch(() => buffers.delete(url));
    buffers.set(url, loading);
  }
  return buffers.get(url);
}

// Min and max per pixel column, for the waveform (wavesurfer draws them).
export function peaksOf(buffer, columns = 1200) {
  const data = buffer.getChannelData(0);
  const step = Math.max(1, Math.floor(data.length / columns));
  const peaks = new Float32Array(Math.ceil(data.length / step));
  for (let i = 0, c = 0; i < data.length; i += step, c++) {
    let top = 0;
    for (let j = i; j < Math.min(i + step, data.length); j++) top = Math.max(top, Math.abs(data[j]));
    peaks[c] = top;
  }
  return [peaks];
}

// A new buffer: the `before` seconds of `a` up to `at` (seconds; its end when
// absent), then the first `after` of `b`.
export function seam(a, b, before, after, at = null) {
  const ctx = audioContext();
  const rate = ctx.sampleRate;
  const end = at == null ? a.length : Math.min(a.length, Math.round(at * rate));
  const head = Math.min(end, Math.round(before * rate));
  const tail = Math.min(b.length, Math.round(after * rate));
  const channels = Math.max(a.numberOfChannels, b.numberOfChannels);
  const out = ctx.createBuffer(channels, head + tail, rate);
  for (let c = 0; c < channels; c++) {
    const target = out.getChannelData(c);
    target.set(a.getChannelData(Math.min(c, a.numberOfChannels - 1)).subarray(end - head, end));
    target.set(b.getChannelData(Math.min(c, b.numberOfChannels - 1)).subarray(0, tail), head);
  }
  return { buffer: out, seamAt: head / rate };
}

// A new buffer: `pieces` [{buffer, from, to}] (seconds of each buffer) back to
// back; `starts`, where each piece begins in it (seconds).
export function spliced(pieces) {
  const ctx = audioContext();
  const rate = ctx.sampleRate;
  const spans = pieces.map(({ buffer, from, to }) => {
    const first = Math.min(buffer.length, Math.max(0, Math.round(from * rate)));
    return [first, Math.min(buffer.length, Math.max(first, Math.round(to * rate)))];
  });
  const total = spans.reduce((sum, [first, last]) => sum + last - first, 0);
  const channels = Math.max(...pieces.map((p) => p.buffer.numberOfChannels));
  const out = ctx.createBuffer(channels, Math.max(1, total), rate);
  const starts = [];
  let at = 0;
  pieces.forEach(({ buffer }, i) => {
    const [first, last] = spans[i];
    starts.push(at / rate);
    for (let c = 0; c < channels; c++) {
      out.getChannelData(c).set(buffer.getChannelData(Math.min(c, buffer.numberOfChannels - 1)).subarray(first, last), at);
    }
    at += last - first;
  });
  return { buffer: out, starts };
}
