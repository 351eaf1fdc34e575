// Adaptive bitrate (property 6): the same rule as streaming/adaptive.py, line for line, on the
// preset table the page gets from Python (json_script "studio-config"). A browser test runs both
// on the same generated inputs, so change them together.
(function (ns) {
  "use strict";

  const CPU_LIMITATION = "cpu";

  function rankOf(presets, name) {
    const rank = presets.findIndex((p) => p.name === name);
    if (rank < 0) throw new Error("Unknown quality " + name);
    return rank;
  }

  function fittingRank(presets, bandwidthKbps, planMax) {
    const cap = rankOf(presets, planMax);
    let fit = -1;
    for (let i = 0; i <= cap; i += 1) if (presets[i].minBandwidthKbps <= bandwidthKbps) fit = i;
    return fit;
  }

  function upgradeHint(presets, bandwidthKbps, planMax) {
    let hint = "";
    for (let i = rankOf(presets, planMax) + 1; i < presets.length; i += 1) {
      if (presets[i].minBandwidthKbps <= bandwidthKbps) hint = presets[i].name;
    }
    return hint;
  }

  // The estimate counts only while bandwidth or CPU holds the encoder back (see the Python).
  function effectiveBandwidth(presets, bandwidthKbps, limitation, current) {
    if (!current || limitation === "bandwidth" || limitation === CPU_LIMITATION) return bandwidthKbps;
    return Math.max(bandwidthKbps, presets[rankOf(presets, current)].minBandwidthKbps);
  }

  // state: {current: "" | name, upSince: null | seconds}; returns the decision (see the Python).
  function nextPreset(state, bandwidthKbps, limitation, now, planMax, presets, holdSeconds) {
    if (state.current && rankOf(presets, state.current) <= rankOf(presets, planMax)) {
      bandwidthKbps = effectiveBandwidth(presets, bandwidthKbps, limitation, state.current);
    }
    const fit = fittingRank(presets, bandwidthKbps, planMax);
    const tooSlow = fit < 0;
    let target = tooSlow ? 0 : fit;
    const hint = upgradeHint(presets, bandwidthKbps, planMax);
    const decide = (rank, upSince, changed, direction) => ({
      state: { current: presets[rank].name, upSince },
      preset: presets[rank],
      changed,
      direction,
      tooSlow,
      upgradeHint: hint,
    });
    if (!state.current) return decide(target, null, false, "");
    let current = rankOf(presets, state.current);
    const cap = rankOf(presets, planMax);
    if (current > cap) current = cap; // the plan changed under a running stream
    if (limitation === CPU_LIMITATION) target = Math.min(target, Math.max(current - 1, 0));
    if (target < current) return decide(target, null, true, "down");
    if (target === current) {
      const changed = presets[current].name !== state.current;
      return decide(current, null, changed, changed ? "down" : "");
    }
    const upSince = state.upSince !== null && state.upSince !== undefined ? state.upSince : now;
    if (now - upSince >= holdSeconds) return decide(target, null, true, "up");
    return decide(current, upSince, false, "");
  }

  ns.adaptive = { nextPreset, rankOf };
})((window.PrismStudio = window.PrismStudio || {}));
