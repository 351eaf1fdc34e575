// Camera, microphone and screen: getUserMedia / getDisplayMedia, the pickers, and what to tell the
// creator when a device is refused, missing, busy or unplugged.
(function (ns) {
  "use strict";

  // Property 5: noise suppression and echo cancellation are always asked for; automatic gain is
  // the creator's stored choice. The stored sample rate is the mix's (the AudioContext's), not the
  // capture's: Chromium 156 captures with its audio processing only at 48 kHz and silently turns
  // noise suppression and echo cancellation off when asked for 44.1 kHz (docs/decisions.md).
  function audioConstraints(audio, deviceId) {
    const constraints = {
      noiseSuppression: true,
      echoCancellation: true,
      autoGainControl: Boolean(audio.autoGainControl),
    };
    if (deviceId) constraints.deviceId = { exact: deviceId };
    return constraints;
  }

  function videoConstraints(preset, deviceId) {
    const constraints = {
      width: { ideal: preset.width },
      height: { ideal: preset.height },
      frameRate: { ideal: preset.fps },
    };
    if (deviceId) constraints.deviceId = { exact: deviceId };
    return constraints;
  }

  // What happened and what to do, by the DOMException getUserMedia rejects with; ``kind`` is
  // "camera", "microphone" or "camera and microphone".
  function explain(error, kind) {
    const name = error && error.name;
    const them = kind.includes(" and ") ? "them" : "it";
    if (name === "NotAllowedError" || name === "SecurityError") {
      return `The browser blocked your ${kind}. Allow ${them} for this site (the camera icon in the address bar, or the site's settings), then press "Turn on camera and microphone" again.`;
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return `No ${kind} found. Plug ${kind.includes(" and ") ? "them" : "one"} in (or choose another in the list), then press "Turn on camera and microphone" again.`;
    }
    if (name === "NotReadableError" || name === "AbortError") {
      return `Your ${kind} ${them === "them" ? "are" : "is"} in use by another program or could not start. Close the other program, then press "Turn on camera and microphone" again.`;
    }
    return `Your ${kind} could not start (${name || "unknown error"}).`;
  }

  // {track, error: the explanation, name: the DOMException's name} ("" when it opened).
  async function open(kind, constraints) {
    const request = kind === "camera" ? { video: constraints } : { audio: constraints };
    try {
      const stream = await navigator.mediaDevices.getUserMedia(request);
      return { track: stream.getTracks()[0], error: "", name: "" };
    } catch (error) {
      return { track: null, error: explain(error, kind), name: (error && error.name) || "Error" };
    }
  }

  async function listDevices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      cameras: all.filter((d) => d.kind === "videoinput"),
      microphones: all.filter((d) => d.kind === "audioinput"),
    };
  }

  function fillPicker(select, devices, chosenId, noun) {
    const options = devices.map((device, index) => {
      const option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || `${noun} ${index + 1}`;
      option.selected = device.deviceId === chosenId;
      return option;
    });
    if (!options.length) {
      const none = document.createElement("option");
      none.value = "";
      none.textContent = `No ${noun.toLowerCase()} found`;
      options.push(none);
    }
    select.replaceChildren(...options);
    select.disabled = !devices.length;
  }

  // Screen share with its audio where the browser offers it (a tab's or the system's).
  async function shareScreen(preset) {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: preset.fps } },
        audio: true,
      });
      return { stream, error: "" };
    } catch (error) {
      if (error && error.name === "NotAllowedError") return { stream: null, error: "Screen sharing was cancelled or blocked." };
      return { stream: null, error: `Screen sharing could not start (${(error && error.name) || "unknown error"}).` };
    }
  }

  ns.devices = { audioConstraints, videoConstraints, explain, open, listDevices, fillPicker, shareScreen };
})((window.PrismStudio = window.PrismStudio || {}));
