// The program: camera, screen and a lower third composed on a canvas, whose captureStream() is the
// video that goes out. Frames are driven by a Worker's timer, not requestAnimationFrame, which
// stops in a hidden tab (the creator switching to the window they share).
(function (ns) {
  "use strict";

  const LAYOUTS = ["camera", "screen", "corner", "side"];
  const BACKGROUND = "#101218";

  function ticker(fps, onTick) {
    const source = `let id = null; onmessage = (e) => { clearInterval(id); if (e.data > 0) id = setInterval(() => postMessage(0), e.data); };`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    worker.onmessage = onTick;
    worker.postMessage(Math.round(1000 / fps));
    return { stop() { worker.postMessage(0); worker.terminate(); } };
  }

  function videoFor(stream) {
    const video = document.createElement("video");
    video.muted = true; // sound goes through the mixer, never straight to the speakers
    video.playsInline = true;
    video.srcObject = stream;
    video.play().catch(() => {});
    return video;
  }

  function hasFrame(video) { return Boolean(video && video.readyState >= 2 && video.videoWidth); }

  // Draw ``video`` scaled to fit inside the box (cover: fill it, cropping the overflow).
  function drawFitted(ctx, video, x, y, w, h, cover) {
    const scale = (cover ? Math.max : Math.min)(w / video.videoWidth, h / video.videoHeight);
    const dw = video.videoWidth * scale;
    const dh = video.videoHeight * scale;
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    ctx.drawImage(video, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
    ctx.restore();
  }

  function placeholder(ctx, text, x, y, w, h) {
    ctx.fillStyle = "#1d2030";
    ctx.fillRect(x, y, w, h);
    ctx.fillStyle = "#8b90a8";
    ctx.font = `${Math.round(h / 14)}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + w / 2, y + h / 2);
  }

  function Compositor(canvas, fps) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width;
    const H = canvas.height;
    const sources = { camera: null, screen: null };
    let layout = "camera";
    let lowerThird = "";
    let timer = null;

    function drawSource(name, x, y, w, h, cover) {
      const video = sources[name];
      if (hasFrame(video)) drawFitted(ctx, video, x, y, w, h, cover);
      else placeholder(ctx, name === "camera" ? "Camera off" : "No screen shared", x, y, w, h);
    }

    function drawLowerThird() {
      if (!lowerThird) return;
      const size = Math.round(H / 18);
      ctx.font = `600 ${size}px sans-serif`;
      const width = ctx.measureText(lowerThird).width + size * 1.4;
      const y = H - size * 3.2;
      ctx.fillStyle = "rgba(12, 14, 24, 0.78)";
      ctx.fillRect(H / 24, y, width, size * 1.8);
      ctx.fillStyle = "#7c6cff";
      ctx.fillRect(H / 24, y, size / 5, size * 1.8);
      ctx.fillStyle = "#ffffff";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(lowerThird, H / 24 + size * 0.7, y + size * 0.9);
    }

    function draw() {
      ctx.fillStyle = BACKGROUND;
      ctx.fillRect(0, 0, W, H);
      if (layout === "camera") drawSource("camera", 0, 0, W, H, true);
      else if (layout === "screen") drawSource("screen", 0, 0, W, H, false);
      else if (layout === "side") {
        drawSource("screen", 0, 0, W / 2, H, false);
        drawSource("camera", W / 2, 0, W / 2, H, true);
      } else {
        // Screen with the camera in the bottom-left corner: bottom-right is where the engine
        // burns the Free plan's branding, so the camera never hides it.
        drawSource("screen", 0, 0, W, H, false);
        const cw = Math.round(W / 4);
        const ch = Math.round(H / 4);
        const margin = Math.round(H / 24);
        drawSource("camera", margin, H - ch - margin, cw, ch, true);
      }
      drawLowerThird();
    }

    return {
      stream: canvas.captureStream(fps),
      start() { if (!timer) timer = ticker(fps, draw); draw(); },
      stop() { if (timer) timer.stop(); timer = null; },
      setSource(name, stream) {
        if (sources[name]) sources[name].srcObject = null;
        sources[name] = stream ? videoFor(stream) : null;
      },
      setLayout(name) {
        if (!LAYOUTS.includes(name)) throw new Error("Unknown layout " + name);
        layout = name;
        draw();
      },
      layout() { return layout; },
      setLowerThird(text) { lowerThird = String(text || "").slice(0, 80); draw(); },
      draw,
    };
  }

  ns.Compositor = Compositor;
  ns.ticker = ticker;
  ns.LAYOUTS = LAYOUTS;
})((window.PrismStudio = window.PrismStudio || {}));
