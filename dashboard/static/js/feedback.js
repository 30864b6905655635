// Sound and vibration for each outcome: a gate worker hears or feels the
// verdict without looking. Tones are made with WebAudio: no audio files.
//   ok     two rising beeps
//   warn   two equal middle beeps
//   stop   one long low buzz
//   tick   one short click (a tally counted)

let ctx = null;

function audio() {
  if (!ctx) {
    const AC = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!AC) return null;
    ctx = new AC();
  }
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  return ctx;
}

// unlock prepares the audio on a user gesture; browsers start audio only
// after one.
export function unlock() {
  try { audio(); } catch { /* no audio */ }
}

function tone(ac, freq, start, dur, type = 'sine', volume = 0.3) {
  const t0 = ac.currentTime + start;
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, t0);
  gain.gain.exponentialRampToValueAtTime(volume, t0 + 0.01);
  gain.gain.setValueAtTime(volume, t0 + dur - 0.03);
  gain.gain.exponentialRampToValueAtTime(0.0001, t0 + dur);
  osc.connect(gain).connect(ac.destination);
  osc.start(t0);
  osc.stop(t0 + dur + 0.02);
}

const SOUNDS = {
  ok: (ac) => { tone(ac, 880, 0, 0.11); tone(ac, 1320, 0.13, 0.16); },
  warn: (ac) => { tone(ac, 620, 0, 0.16, 'triangle', 0.4); tone(ac, 620, 0.24, 0.16, 'triangle', 0.4); },
  stop: (ac) => { tone(ac, 150, 0, 0.7, 'square', 0.22); tone(ac, 155, 0, 0.7, 'sawtooth', 0.12); },
  tick: (ac) => { tone(ac, 1200, 0, 0.05, 'sine', 0.2); },
};

const VIBRATION = { ok: [60], warn: [150, 80, 150], stop: [500, 120, 500], tick: [20] };

// signal plays the sound and the vibration of kind. The last kind is kept
// on <body data-signal> for tests and for anyone inspecting the page.
export function signal(kind) {
  document.body.dataset.signal = kind;
  try {
    const ac = audio();
    if (ac) SOUNDS[kind](ac);
  } catch { /* a phone without audio still vibrates */ }
  try { navigator.vibrate?.(VIBRATION[kind]); } catch { /* not supported */ }
}
