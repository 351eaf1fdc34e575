// The browser studio: wires devices, the program canvas, the mixer and the WHIP publisher to the
// page, and uses the live panel's socket (PrismLive, from studio.js) for go_live, stop and status.
(function (ns) {
  "use strict";

  const root = document.getElementById("browser-studio");
  if (!root) return;
  const config = JSON.parse(document.getElementById("studio-config").textContent);
  const presets = config.presets;
  const ceiling = presets[ns.adaptive.rankOf(presets, config.ceiling)];
  const $ = (id) => document.getElementById(id);
  const canvas = $("program");
  const compositor = ns.Compositor(canvas, ceiling.fps);
  let mixer = null;
  const tracks = { camera: null, microphone: null };
  let screenStream = null;
  let session = null; // the WHIP publisher while live
  let abr = { current: "", upSince: null };
  let hinted = "";
  let statsTimer = null;
  let waitingForWhip = false;
  let liveSessionId = null; // the engine's session this page publishes into, once it shows up
  let wasTooSlow = false;
  let publishedAt = 0;
  let attempt = false; // Go live pressed, and the engine has not started the session yet
  // What is wrong with each device right now (blocked, missing, stopped), shown until it works again.
  const problems = { camera: "", microphone: "" };
  let layoutBeforeCameraLost = "";

  function toast(message, kind) {
    const el = document.createElement("div");
    el.className = "toast " + (kind || "warning");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = message;
    $("toasts").appendChild(el);
    setTimeout(() => el.remove(), 8000);
  }

  function say(message) {
    const box = $("device-message");
    box.textContent = message;
    box.hidden = !message;
  }

  function mix() {
    if (!mixer) {
      mixer = ns.Mixer(config.audio.sampleRate);
      ["mic", "screen", "music"].forEach((name) => {
        mixer.channel(name);
        mixer.setGain(name, $(`gain-${name}`).value);
        mixer.setMuted(name, $(`mute-${name}`).checked);
      });
    }
    return mixer;
  }

  // A new mix at the stored sample rate, with the live sources moved over (not while publishing:
  // the outgoing audio track is the old mix's).
  function rebuildMixer() {
    const music = mixer && mixer.channel("music").element;
    mixer.context.close();
    mixer = null;
    mix().resume();
    if (tracks.microphone) mixer.setStream("mic", new MediaStream([tracks.microphone]));
    if (screenStream) mixer.setStream("screen", screenStream);
    if (music) { $("music-file").value = ""; toast("Choose the music file again.", "info"); }
  }

  function showProblems() { say([problems.camera, problems.microphone].filter(Boolean).join(" ")); }

  // What the stream goes on with when a device is missing.
  const WITHOUT = {
    camera: () => (screenStream ? "Your viewers see your screen only." : 'Your viewers see "Camera off": share your screen to show something else.'),
    microphone: () => "Your viewers hear only your screen audio and music.",
  };

  // The program without the camera: the screen alone when one is shared (back when the camera is).
  function dropCamera() {
    compositor.setSource("camera", null);
    if (screenStream && compositor.layout() !== "screen") {
      layoutBeforeCameraLost = compositor.layout();
      selectLayout("screen");
    }
  }

  // A device that goes away while in use (unplugged, switched off, its permission withdrawn): the
  // track's "ended" event. Say what happened and what to do, and go on with the rest.
  function watch(track, kind) {
    track.addEventListener("ended", () => {
      if (tracks[kind] !== track) return;
      tracks[kind] = null;
      if (kind === "camera") dropCamera();
      else mix().setStream("mic", null);
      problems[kind] = `Your ${kind} stopped (unplugged, switched off or blocked). ` +
        `${session ? "You are still live. " : ""}${WITHOUT[kind]()} ` +
        `Plug it back in or choose another ${kind}, then press "Restart camera and microphone".`;
      showProblems();
      toast(`Your ${kind} stopped.${session ? " You are still live." : ""}`, "error");
      refreshPickers();
    });
  }

  async function refreshPickers() {
    const { cameras, microphones } = await ns.devices.listDevices();
    ns.devices.fillPicker($("camera-select"), cameras, tracks.camera && tracks.camera.getSettings().deviceId, "Camera");
    ns.devices.fillPicker($("mic-select"), microphones, tracks.microphone && tracks.microphone.getSettings().deviceId, "Microphone");
  }

  // Each returns the DOMException's name ("" when the device opened) and records the problem.
  async function openCamera(deviceId) {
    const { track, error, name } = await ns.devices.open("camera", ns.devices.videoConstraints(ceiling, deviceId));
    if (tracks.camera) tracks.camera.stop();
    tracks.camera = track;
    if (track) {
      compositor.setSource("camera", new MediaStream([track]));
      watch(track, "camera");
      if (layoutBeforeCameraLost && compositor.layout() === "screen") selectLayout(layoutBeforeCameraLost);
      layoutBeforeCameraLost = "";
    } else {
      dropCamera();
    }
    problems.camera = error ? `${error} ${WITHOUT.camera()}` : "";
    showProblems();
    return name;
  }

  async function openMicrophone(deviceId) {
    const { track, error, name } = await ns.devices.open("microphone", ns.devices.audioConstraints(config.audio, deviceId));
    if (tracks.microphone) tracks.microphone.stop();
    tracks.microphone = track;
    mix().setStream("mic", track ? new MediaStream([track]) : null);
    if (track) watch(track, "microphone");
    problems.microphone = error ? `${error} ${WITHOUT.microphone()}` : "";
    showProblems();
    return name;
  }

  async function turnOn() {
    await mix().resume();
    compositor.start();
    const camera = await openCamera($("camera-select").value);
    const microphone = await openMicrophone($("mic-select").value);
    if (camera && camera === microphone) {
      // One cause for both (blocked, none plugged in): one message.
      problems.camera = `${ns.devices.explain({ name: camera }, "camera and microphone")} Until then you can share your screen and go live with it.`;
      problems.microphone = "";
      showProblems();
    }
    await refreshPickers();
    $("start-devices").textContent = "Restart camera and microphone";
    root.dataset.devices = tracks.camera || tracks.microphone ? "on" : "off";
  }

  $("start-devices").addEventListener("click", turnOn);
  $("camera-select").addEventListener("change", (e) => openCamera(e.target.value));
  $("mic-select").addEventListener("change", (e) => openMicrophone(e.target.value));
  navigator.mediaDevices && navigator.mediaDevices.addEventListener("devicechange", () => { if (root.dataset.devices) refreshPickers(); });

  function stopScreen() {
    if (screenStream) screenStream.getTracks().forEach((t) => t.stop());
    screenStream = null;
    compositor.setSource("screen", null);
    mix().setStream("screen", null);
    $("share-screen").hidden = false;
    $("stop-screen").hidden = true;
  }

  $("share-screen").addEventListener("click", async () => {
    await mix().resume();
    compositor.start();
    const { stream, error } = await ns.devices.shareScreen(ceiling);
    if (!stream) { toast(error, "error"); return; }
    stopScreen();
    screenStream = stream;
    compositor.setSource("screen", new MediaStream(stream.getVideoTracks()));
    mix().setStream("screen", stream);
    stream.getVideoTracks()[0].addEventListener("ended", stopScreen); // "Stop sharing" in the browser's bar
    $("share-screen").hidden = true;
    $("stop-screen").hidden = false;
    if (compositor.layout() === "camera") selectLayout(tracks.camera ? "corner" : "screen");
  });
  $("stop-screen").addEventListener("click", stopScreen);

  function selectLayout(name) {
    compositor.setLayout(name);
    const radio = document.querySelector(`input[name=layout][value=${name}]`);
    if (radio) radio.checked = true;
  }
  document.querySelectorAll("input[name=layout]").forEach((radio) => radio.addEventListener("change", () => selectLayout(radio.value)));
  $("lower-third").addEventListener("input", (e) => compositor.setLowerThird(e.target.value));

  ["mic", "screen", "music"].forEach((name) => {
    $(`gain-${name}`).addEventListener("input", (e) => mix().setGain(name, e.target.value));
    $(`mute-${name}`).addEventListener("change", (e) => mix().setMuted(name, e.target.checked));
  });
  $("music-file").addEventListener("change", async (e) => {
    await mix().resume();
    const file = e.target.files[0];
    if (file && !file.type.startsWith("audio/")) { toast("Choose an audio file (MP3, OGG, WAV…).", "error"); return; }
    await Promise.resolve(mix().setMusic(file || null)).catch(() => toast("That file cannot be played here.", "error"));
  });

  // Meters, from the same Worker timer as the canvas so they keep moving in a hidden tab.
  ns.ticker(15, () => {
    if (!mixer) return;
    const levels = mixer.levels();
    ["mic", "screen", "music", "master"].forEach((name) => { $(`meter-${name}`).value = levels[name] || 0; });
  });

  // Audio settings (property 5): stored on the server, applied to the microphone at once.
  $("audio-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = { type: "audio_settings", auto_gain_control: $("agc").checked, sample_rate: parseInt($("sample-rate").value, 10) };
    if (!window.PrismLive.send(message)) toast("Not connected: try again in a moment.", "error");
  });

  // Why the browser studio is not live (any more): a refused publish (with the upgrade link when it
  // is the plan), a lost connection. Cleared by the next Go live.
  function showNotLive(message, upgradeUrl) {
    $("studio-ended-message").textContent = message;
    const link = $("studio-ended-upgrade");
    link.hidden = !upgradeUrl;
    link.href = upgradeUrl || "";
    $("studio-ended").hidden = !message;
  }

  // Go live: ask the server (title, WHIP URL, short-lived token), then publish the program.
  $("go-live").addEventListener("click", () => {
    if (!tracks.camera && !screenStream) { say('Turn on your camera or share your screen first: that is what your viewers will see.'); return; }
    showNotLive("");
    attempt = true;
    const title = $("stream-title").value.trim();
    window.PrismLive.sendWhenOpen({ type: "go_live", title });
    waitingForWhip = true;
    $("go-live").disabled = true;
    $("go-live-state").textContent = "Connecting…";
  });

  async function startPublishing(reply) {
    waitingForWhip = false;
    const video = compositor.stream.getVideoTracks()[0];
    const audio = mix().stream.getAudioTracks()[0];
    try {
      session = await ns.whip.publish(reply.url, reply.token, video, audio, ceiling, canvas.height);
    } catch (error) {
      attempt = false;
      $("go-live").disabled = false;
      $("go-live-state").textContent = "";
      showNotLive(error.message);
      toast(error.message, "error");
      return;
    }
    session.onLost = connectionLost;
    root.dataset.publishing = "true";
    $("go-live").hidden = true;
    $("studio-stop").hidden = false;
    $("go-live-state").textContent = "Sending to Prism…";
    // The sender starts at the ceiling (whip.publish's encoding): the rule starts from there too.
    abr = { current: ceiling.name, upSince: null };
    publishedAt = performance.now() / 1000;
    wasTooSlow = false;
    liveSessionId = null;
    statsTimer = setInterval(readStats, 1000);
  }

  // The media server closed the WebRTC connection (it ended the WHIP session) or the network is gone.
  // When the engine refused the publish, its reason follows over the socket and replaces this.
  function connectionLost() {
    if (!session) return;
    stopPublishing();
    showNotLive("The connection to Prism's media server closed, so this browser is not sending any more. " +
      "Press Go live to try again; if it keeps happening, check your network.");
  }

  async function stopPublishing() {
    clearInterval(statsTimer);
    statsTimer = null;
    const ending = session;
    session = null;
    root.dataset.publishing = "false";
    $("go-live").hidden = false;
    $("go-live").disabled = false;
    $("studio-stop").hidden = true;
    $("go-live-state").textContent = "";
    $("send-health").textContent = "";
    if (ending) await ending.stop();
  }

  $("studio-stop").addEventListener("click", async () => {
    attempt = false;
    const live = window.PrismLive.session();
    if (live && ["STARTING", "LIVE"].includes(live.state)) window.PrismLive.send({ type: "stop", session: live.id });
    await stopPublishing();
  });

  function kbps(value) { return value >= 1000 ? `${(value / 1000).toFixed(1)} Mb/s` : `${Math.round(value)} kb/s`; }

  async function readStats() {
    if (!session) return;
    const sample = await session.stats();
    ns.page.lastSample = sample; // for the console and tests: what the rule was given
    const fps = sample.fps === null ? "–" : Math.round(sample.fps);
    $("send-health").textContent = `Sending ${sample.sendKbps === null ? "–" : kbps(sample.sendKbps)} at ${fps} fps` +
      (sample.width ? `, ${sample.width}x${sample.height}` : "") + (session.codec ? ` (${session.codec.replace("video/", "")})` : "");
    // The estimate starts low and ramps up with what is sent (REMB): deciding on it during the
    // first seconds would pin every stream to a low preset for a hold period or more.
    if (performance.now() / 1000 - publishedAt < config.warmupSeconds) return;
    // Measured on a link cut to 1 Mb/s (tc tbf): Chromium 156 then drops availableOutgoingBitrate
    // from the stats and, keeping the resolution, sheds frames while reporting no limitation. So
    // the real send rate stands in for a missing estimate, and a frame rate under half the
    // preset's counts as bandwidth holding the encoder back.
    const bandwidth = sample.availableKbps !== null ? sample.availableKbps : sample.sendKbps;
    if (bandwidth === null) return; // nothing measured yet: decide on nothing
    const sending = abr.current ? presets[ns.adaptive.rankOf(presets, abr.current)] : ceiling;
    const starved = sample.fps !== null && sample.fps < sending.fps / 2;
    const limitation = sample.limitation === "none" && starved ? "bandwidth" : sample.limitation;
    const decision = ns.adaptive.nextPreset(abr, bandwidth, limitation, performance.now() / 1000, config.planMax, presets, config.holdSeconds);
    abr = decision.state;
    root.dataset.quality = decision.preset.name;
    $("quality-state").textContent = `Quality: ${decision.preset.name}` + (decision.tooSlow ? " (connection too slow)" : "");
    if (decision.changed || !session.applied) {
      session.applied = true;
      await session.apply(decision.preset).catch(() => {});
    }
    const newlyTooSlow = decision.tooSlow && !wasTooSlow;
    wasTooSlow = decision.tooSlow;
    if (newlyTooSlow) {
      toast(`Your connection is too slow to stream well (${kbps(bandwidth)}; at least ${kbps(presets[0].minBandwidthKbps)} needed). Close other uploads or move closer to the router.`, "error");
    } else if (decision.changed && decision.direction === "down") {
      const why = sample.limitation === "cpu" ? "your computer is short of CPU" : `your connection carries about ${kbps(bandwidth)}`;
      toast(`Quality lowered to ${decision.preset.name}: ${why}.`, "warning");
    } else if (decision.changed && decision.direction === "up") {
      toast(`Quality raised to ${decision.preset.name}.`, "info");
    }
    if (decision.upgradeHint && decision.upgradeHint !== hinted) {
      hinted = decision.upgradeHint;
      $("upgrade-hint").hidden = false;
      $("upgrade-hint-quality").textContent = decision.upgradeHint;
    }
  }

  function showIngest(live) {
    const ingest = live && live.ingest;
    $("ingest-health").textContent = ingest && ingest.width
      ? `Prism receives ${ingest.width}x${ingest.height}${ingest.fps ? ` at ${Math.round(ingest.fps)} fps` : ""}${ingest.video_codec ? ` (${ingest.video_codec}${ingest.audio_codec ? " + " + ingest.audio_codec : ""})` : ""}.`
      : "";
  }

  window.PrismLive.listeners.push((msg) => {
    if (msg.type === "whip" && waitingForWhip) startPublishing(msg);
    else if (msg.type === "error" && waitingForWhip) {
      waitingForWhip = false;
      attempt = false;
      $("go-live").disabled = false;
      $("go-live-state").textContent = "";
      showNotLive(msg.message);
    } else if (msg.type === "refused" && attempt) {
      // The WHIP POST was answered 201, then the ingest refused the publish (the plan, already
      // live…): the engine says why over this socket. Stop sending and say it here too.
      attempt = false;
      stopPublishing();
      showNotLive(`Not live: ${msg.message}`, msg.upgrade_url);
    } else if (msg.type === "audio_settings") {
      const rateChanged = config.audio.sampleRate !== msg.constraints.sampleRate;
      config.audio = msg.constraints;
      toast("Microphone settings saved.", "info");
      if (rateChanged && mixer && !session) rebuildMixer();
      else if (rateChanged && session) toast("The new sample rate applies to your next stream.", "info");
      if (tracks.microphone) openMicrophone($("mic-select").value);
    } else if (msg.type === "status") {
      showIngest(msg.session);
      if (!session || !msg.session) return;
      const active = ["STARTING", "LIVE"].includes(msg.session.state);
      if (active) { liveSessionId = msg.session.id; attempt = false; }
      // Stopped by the engine (plan limit, Stop in another tab): an older session's end is not ours.
      if (!active && msg.session.id === liveSessionId) stopPublishing();
      else if (msg.session.state === "LIVE") $("go-live-state").textContent = "You are live.";
    }
  });

  // For tests and for the console: the live pieces of the page.
  ns.page = { compositor, mixer: () => mixer, tracks, session: () => session, selectLayout, config };
})((window.PrismStudio = window.PrismStudio || {}));
