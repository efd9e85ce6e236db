// Record straight in: a clip from the microphone or an audio interface, its
// level shown while it records. Stopped, it becomes a WAV that starts a chain
// as a dropped file does, with the same checks (a second at least, and so on).

import { fmt, h } from "./dom.js";

/** 16-bit PCM WAV of an AudioBuffer. */
export function wavOf(buffer) {
  const channels = buffer.numberOfChannels;
  const frames = buffer.length;
  const bytes = new DataView(new ArrayBuffer(44 + frames * channels * 2));
  const text = (at, s) => [...s].forEach((c, i) => bytes.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  bytes.setUint32(4, 36 + frames * channels * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  bytes.setUint32(16, 16, true);
  bytes.setUint16(20, 1, true); // PCM
  bytes.setUint16(22, channels, true);
  bytes.setUint32(24, buffer.sampleRate, true);
  bytes.setUint32(28, buffer.sampleRate * channels * 2, true);
  bytes.setUint16(32, channels * 2, true);
  bytes.setUint16(34, 16, true);
  text(36, "data");
  bytes.setUint32(40, frames * channels * 2, true);
  const data = [...Array(channels).keys()].map((c) => buffer.getChannelData(c));
  let at = 44;
  for (let i = 0; i < frames; i += 1) {
    for (let c = 0; c < channels; c += 1) {
      const s = Math.max(-1, Math.min(1, data[c][i]));
      bytes.setInt16(at, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([bytes.buffer], { type: "audio/wav" });
}

/** The record button, its level meter and clock; `onClip(file)` gets the recording. */
export function recorder(onClip, onError) {
  const level = h("meter", { id: "record-level", min: 0, max: 1, value: 0, "aria-label": "Input level", hidden: true });
  const clock = h("span", { class: "muted", id: "record-clock" });
  const button = h("button", { id: "record", type: "button", title: "Record from the microphone or an audio interface" },
    "● Record");
  let session = null;

  const stop = () => session?.recorder.stop();
  button.addEventListener("click", async () => {
    if (session) return stop();
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 1024;
      context.createMediaStreamSource(stream).connect(analyser);
      const media = new MediaRecorder(stream);
      const parts = [];
      const started = performance.now();
      const samples = new Float32Array(analyser.fftSize);
      const meter = () => {
        if (!session) return;
        analyser.getFloatTimeDomainData(samples);
        level.value = Math.min(1, Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length) * 4);
        clock.textContent = fmt((performance.now() - started) / 1000);
        requestAnimationFrame(meter);
      };
      media.addEventListener("dataavailable", (event) => parts.push(event.data));
      media.addEventListener("stop", async () => {
        session = null;
        stream.getTracks().forEach((track) => track.stop());
        button.textContent = "● Record";
        level.hidden = true;
        try {
          const recorded = await context.decodeAudioData(await new Blob(parts).arrayBuffer());
          const name = `recording ${new Date().toLocaleString().replace(/[/:]/g, "-")}.wav`;
          onClip(new File([wavOf(recorded)], name, { type: "audio/wav" }));
        } catch (error) {
          onError(new Error(`The recording can't be read: ${error.message}`));
        } finally {
          context.close();
        }
      });
      session = { recorder: media };
      media.start();
      button.textContent = "■ Stop recording";
      level.hidden = false;
      meter();
    } catch (error) {
      onError(new Error(`The microphone can't be used: ${error.message}`));
    }
  });
  return h("div", { class: "record", id: "recorder" }, button, level, clock);
}
