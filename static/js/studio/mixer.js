// The audio mix: microphone, screen audio and a music file, each with gain, mute and a level
// meter, summed into a master (with its meter) whose MediaStreamDestination is what goes out.
(function (ns) {
  "use strict";

  function levelOf(analyser, buffer) {
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (let i = 0; i < buffer.length; i += 1) sum += buffer[i] * buffer[i];
    // RMS on a dB scale mapped to 0..1 (-60 dBFS .. 0 dBFS): what a level meter shows.
    const db = 20 * Math.log10(Math.sqrt(sum / buffer.length) || 1e-8);
    return Math.max(0, Math.min(1, (db + 60) / 60));
  }

  function Mixer(sampleRate) {
    let context;
    try {
      context = new AudioContext({ sampleRate, latencyHint: "interactive" });
    } catch (error) {
      context = new AudioContext(); // a rate the hardware cannot run: the browser's own
    }
    const destination = context.createMediaStreamDestination();
    const master = context.createGain();
    const masterMeter = context.createAnalyser();
    masterMeter.fftSize = 1024;
    master.connect(masterMeter);
    master.connect(destination);
    const buffer = new Float32Array(1024);
    const channels = {};

    function channel(name) {
      if (!channels[name]) {
        const gain = context.createGain();
        const analyser = context.createAnalyser();
        analyser.fftSize = 1024;
        gain.connect(analyser);
        gain.connect(master);
        channels[name] = { gain, analyser, source: null, level: 1, muted: false, element: null };
      }
      return channels[name];
    }

    function apply(ch) { ch.gain.gain.setTargetAtTime(ch.muted ? 0 : ch.level, context.currentTime, 0.02); }

    function disconnect(ch) {
      if (ch.source) ch.source.disconnect();
      if (ch.element) { ch.element.pause(); URL.revokeObjectURL(ch.element.src); }
      ch.source = null;
      ch.element = null;
    }

    return {
      context,
      stream: destination.stream,
      resume() { return context.resume(); },
      setStream(name, stream) {
        const ch = channel(name);
        disconnect(ch);
        if (stream && stream.getAudioTracks().length) {
          ch.source = context.createMediaStreamSource(stream);
          ch.source.connect(ch.gain);
        }
      },
      setMusic(file) {
        const ch = channel("music");
        disconnect(ch);
        if (!file) return null;
        const element = new Audio(URL.createObjectURL(file));
        element.loop = true;
        ch.element = element;
        ch.source = context.createMediaElementSource(element); // only into the mix, not the speakers
        ch.source.connect(ch.gain);
        return element.play();
      },
      setGain(name, value) { const ch = channel(name); ch.level = Math.max(0, Math.min(2, Number(value) || 0)); apply(ch); },
      setMuted(name, muted) { const ch = channel(name); ch.muted = Boolean(muted); apply(ch); },
      levels() {
        const out = { master: levelOf(masterMeter, buffer) };
        for (const [name, ch] of Object.entries(channels)) out[name] = levelOf(ch.analyser, buffer);
        return out;
      },
      channel,
    };
  }

  ns.Mixer = Mixer;
})((window.PrismStudio = window.PrismStudio || {}));
