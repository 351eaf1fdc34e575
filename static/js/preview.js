// The local test destination's preview: native HLS when the browser has it, else hls.js.
(function () {
  "use strict";
  const video = document.getElementById("preview");
  const state = document.getElementById("preview-state");
  const src = video.dataset.src;
  let timer = null;

  function native() { return video.canPlayType("application/vnd.apple.mpegurl") !== ""; }

  function start() {
    if (native()) {
      video.src = src;
    } else if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 0 });
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) { hls.destroy(); retry(); }
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else {
      state.textContent = "This browser cannot play HLS.";
      return;
    }
    video.play().catch(() => {});
  }

  // The playlist appears a few seconds after the stream reaches the sink: poll until it does.
  function retry() {
    state.textContent = "Waiting for the stream…";
    clearTimeout(timer);
    timer = setTimeout(start, 2000);
  }

  video.addEventListener("error", () => { if (native()) retry(); });
  video.addEventListener("playing", () => { state.textContent = "Playing."; });
  start();
})();
