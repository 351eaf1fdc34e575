// Publishing the program over WebRTC to a WHIP endpoint (RFC 9725): one POST of the whole offer
// (candidates gathered first; non-trickle is allowed), 201 + Location, DELETE to end.
(function (ns) {
  "use strict";

  // H.264 first (the media node keeps it as received, no re-encode); the rest stay as a fallback.
  function preferH264(transceiver) {
    if (!window.RTCRtpSender || !RTCRtpSender.getCapabilities || !transceiver.setCodecPreferences) return;
    const codecs = RTCRtpSender.getCapabilities("video").codecs;
    const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264");
    if (!h264.length) return;
    // Constrained Baseline with packetization-mode=1 is what every ingest takes: first among the H.264s.
    const rank = (c) => (/profile-level-id=42e0/.test(c.sdpFmtpLine || "") ? 0 : 1) + (/packetization-mode=1/.test(c.sdpFmtpLine || "") ? 0 : 2);
    h264.sort((a, b) => rank(a) - rank(b));
    transceiver.setCodecPreferences([...h264, ...codecs.filter((c) => !h264.includes(c))]);
  }

  function iceGathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, timeoutMs); // send what was gathered rather than hang
    });
  }

  function encodingFor(preset, canvasHeight) {
    return {
      maxBitrate: preset.videoKbps * 1000,
      maxFramerate: preset.fps,
      scaleResolutionDownBy: Math.max(1, canvasHeight / preset.height),
    };
  }

  async function publish(url, token, videoTrack, audioTrack, preset, canvasHeight) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const video = pc.addTransceiver(videoTrack, { direction: "sendonly", sendEncodings: [encodingFor(preset, canvasHeight)] });
    pc.addTransceiver(audioTrack, { direction: "sendonly", sendEncodings: [{ maxBitrate: preset.audioKbps * 1000 }] });
    preferH264(video);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, 3000);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
        body: pc.localDescription.sdp,
      });
    } catch (error) {
      pc.close();
      throw new Error("The media server could not be reached. Check your connection and try again.");
    }
    if (response.status !== 201) {
      const reason = (await response.text().catch(() => "")).slice(0, 300);
      pc.close();
      throw new Error(`The media server refused the stream (${response.status}${reason ? ": " + reason : ""}).`);
    }
    const location = new URL(response.headers.get("Location") || "", url).href;
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    // Keep the size and drop frames or bitrate instead: a resolution change mid-broadcast is a
    // new SPS that not every platform takes (../docs/decisions.md).
    const params = video.sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    await video.sender.setParameters(params).catch(() => {});
    return new Session(pc, video.sender, location, token, canvasHeight);
  }

  function Session(pc, sender, location, token, canvasHeight) {
    let last = null;
    this.pc = pc;
    this.sender = sender;
    this.location = location;
    this.codec = "";
    this.onLost = null; // called once if the connection fails or the server closes it
    let lost = false;
    pc.addEventListener("connectionstatechange", () => {
      if (lost || !["failed", "closed"].includes(pc.connectionState)) return;
      lost = true;
      if (this.onLost) this.onLost();
    });
    this.apply = async (preset) => {
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) params.encodings = [{}];
      Object.assign(params.encodings[0], encodingFor(preset, canvasHeight));
      await sender.setParameters(params);
    };
    // What the adaptive rule and the health line need: the estimate, the real send rate, fps,
    // and why the encoder holds back ("cpu", "bandwidth", "none").
    this.stats = async () => {
      const report = await pc.getStats();
      let available;
      let out = null;
      let codecs = {};
      report.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.availableOutgoingBitrate !== undefined) {
          available = s.availableOutgoingBitrate;
        }
        if (s.type === "outbound-rtp" && s.kind === "video") out = s;
        if (s.type === "codec") codecs[s.id] = s.mimeType;
      });
      const sample = { availableKbps: available === undefined ? null : available / 1000, sendKbps: null, fps: null, limitation: "none", width: null, height: null };
      if (out) {
        sample.fps = out.framesPerSecond === undefined ? null : out.framesPerSecond;
        sample.limitation = out.qualityLimitationReason || "none";
        sample.width = out.frameWidth || null;
        sample.height = out.frameHeight || null;
        this.codec = codecs[out.codecId] || this.codec;
        if (last) sample.sendKbps = ((out.bytesSent - last.bytes) * 8) / (out.timestamp - last.at);
        last = { bytes: out.bytesSent, at: out.timestamp };
      }
      return sample;
    };
    this.stop = async () => {
      lost = true; // our own close is no loss
      pc.close();
      // RFC 9725: DELETE the session's resource. A failure here is the server's to clean up
      // (the ingest ends when the media stops); the page has already stopped sending.
      await fetch(location, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
    };
  }

  ns.whip = { publish, encodingFor };
})((window.PrismStudio = window.PrismStudio || {}));
