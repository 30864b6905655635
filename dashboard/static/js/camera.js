// Camera scanning. The phone's own BarcodeDetector is used where it reads
// QR codes (Chrome on Android); elsewhere the barcode-detector polyfill,
// which runs ZXing-C++ compiled to WebAssembly. Both are loaded only when
// the camera is switched on, and the .wasm comes from this server's
// /static/vendor, never from a CDN.

const VENDOR = '/static/vendor/barcode-detector-3.2.2/';
const INTERVAL = 120; // ms between two looks at the video: ~8 a second

// detector returns a QR code detector and which one it is.
async function detector() {
  const Native = globalThis.BarcodeDetector;
  if (Native) {
    try {
      if ((await Native.getSupportedFormats()).includes('qr_code')) {
        return { kind: 'native', d: new Native({ formats: ['qr_code'] }) };
      }
    } catch { /* fall back to the polyfill */ }
  }
  const m = await import(VENDOR + 'ponyfill.js');
  const wasm = new URL(VENDOR + 'zxing_reader.wasm', location.href).href;
  m.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith('.wasm') ? wasm : prefix + path) },
    fireImmediately: false, // the constructor below starts loading it
  });
  return { kind: 'zxing-wasm', d: new m.BarcodeDetector({ formats: ['qr_code'] }) };
}

// Camera shows the back camera in video and calls onCode with the text of
// each QR code it reads, unless paused() says the page is busy (a result
// on screen).
export class Camera {
  constructor(video, { onCode, paused, onStatus }) {
    this.video = video;
    this.onCode = onCode;
    this.paused = paused;
    this.onStatus = onStatus;
    this.stream = null;
    this.running = false;
  }

  // start asks for the camera; it throws Error('insecure') when the page is
  // not in a secure context (http:// on the LAN), where browsers give no
  // camera.
  async start() {
    if (!globalThis.isSecureContext || !navigator.mediaDevices?.getUserMedia) throw new Error('insecure');
    this.onStatus('camera_loading');
    const [stream, found] = await Promise.all([
      navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      }),
      detector(),
    ]);
    this.stream = stream;
    this.detector = found.d;
    document.body.dataset.detector = found.kind;
    this.video.srcObject = stream;
    await this.video.play();
    this.running = true;
    this.onStatus('camera_ready');
    this.loop();
  }

  async loop() {
    while (this.running) {
      if (!this.paused() && this.video.readyState >= 2) {
        try {
          const codes = await this.detector.detect(this.video);
          // How many frames were looked at: a test waits for more passes over
          // a code still in view instead of waiting for time to pass.
          document.body.dataset.detections = String(Number(document.body.dataset.detections || 0) + 1);
          const c = codes.find((x) => x.rawValue);
          if (c && this.running) this.onCode(c.rawValue);
        } catch (e) {
          console.warn('detect', e);
        }
      }
      await new Promise((r) => setTimeout(r, INTERVAL));
    }
  }

  // torch reports whether the camera has a torch, and switches it.
  hasTorch() {
    const track = this.stream?.getVideoTracks()[0];
    return Boolean(track?.getCapabilities?.().torch);
  }

  async torch(on) {
    const track = this.stream?.getVideoTracks()[0];
    await track?.applyConstraints({ advanced: [{ torch: on }] });
  }

  stop() {
    this.running = false;
    for (const t of this.stream?.getTracks() || []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}
