// Runs in the browser page. Uses only the official SDK's public API (window.CometChatCalls),
// exactly as an app would, and records what it saw in window.__result.
/* global CometChatCalls */
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const host = params.get("host"); // Calltrail's base URL, e.g. http://127.0.0.1:8080
  const token = params.get("token");
  const scenario = params.get("scenario") || "full";

  function user(entity) {
    if (!entity) return null;
    if (typeof entity.getGuid === "function") {
      return { guid: entity.getGuid(), name: entity.getName(), icon: entity.getIcon() };
    }
    return { uid: entity.getUid(), name: entity.getName(), avatar: entity.getAvatar() };
  }

  function summary(log) {
    return {
      sessionId: log.getSessionID(),
      status: log.getStatus(),
      type: log.getType(),
      callCategory: log.getCallCategory(),
      receiverType: log.getReceiverType(),
      initiatedAt: log.getInitiatedAt(),
      endedAt: log.getEndedAt(),
      totalDuration: log.getTotalDuration(),
      totalDurationInMinutes: log.getTotalDurationInMinutes(),
      totalParticipants: log.getTotalParticipants(),
      hasRecording: log.getHasRecording(),
      initiator: user(log.getInitiator()),
      receiver: user(log.getReceiver()),
      participants: (log.getParticipants() || []).map((p) => ({
        uid: p.getUid(),
        name: p.getName(),
        hasJoined: p.getHasJoined(),
        deviceID: p.getDeviceID(),
        totalDurationInMinutes: p.getTotalDurationInMinutes(),
        state: p.getState(),
      })),
      recordings: (log.getRecordings() || []).map((r) => ({ rid: r.getRid(), url: r.getRecordingURL() })),
      direction: log.direction, // Calltrail's addition, kept by the SDK's Object.assign
      missed: log.missed,
    };
  }

  function failure(error) {
    return { code: error && error.code, message: error && error.message, details: error && error.details };
  }

  async function walk(builder) {
    const request = builder.build();
    const forward = [];
    for (let i = 0; i < 50; i++) {
      const page = await request.fetchNext();
      if (page.length === 0) break;
      forward.push(page.map((log) => log.getSessionID()));
    }
    const back = [];
    for (let i = 0; i < 50; i++) {
      const page = await request.fetchPrevious();
      if (page.length === 0) break;
      back.push(page.map((log) => log.getSessionID()));
    }
    return { forward, back };
  }

  function builder() {
    return new CometChatCalls.CallLogRequestBuilder().setAuthToken(token);
  }

  async function full() {
    const out = {};
    // Everything, 5 a page, forward to the end and back to the start.
    out.all = await walk(builder().setLimit(5));
    // One page holding everything, to read each log's fields through the SDK's getters.
    const all = await builder().setLimit(100).build().fetchNext();
    out.logs = all.map(summary);
    const list = document.getElementById("logs");
    for (const log of all) {
      const item = document.createElement("li");
      item.textContent = `${log.getInitiator().getName()} → ${log.getReceiver().getName()}: ${log.getStatus()}`;
      list.appendChild(item);
    }
    // Every filter the builder has.
    out.missedIncoming = await walk(builder().setLimit(2).setCallStatus("missed").setCallDirection("incoming"));
    out.outgoing = await walk(builder().setLimit(3).setCallDirection("outgoing"));
    out.video = await walk(builder().setCallType("video"));
    out.recorded = await walk(builder().setHasRecording(true));
    out.meet = await walk(builder().setCallCategory("meet"));
    out.ended = await walk(builder().setLimit(4).setCallStatus("ended"));
    out.withBob = await walk(builder().setUid("bob"));
    out.team = await walk(builder().setLimit(2).setGuid("team"));
    // Call details: a one-element list.
    out.details = (await CometChatCalls.getCallDetails("c07", token)).map(summary);
    // Errors come back as CometChatCallsException {code, message, details}.
    try {
      await CometChatCalls.getCallDetails("c14", token);
      out.notMine = "resolved";
    } catch (error) {
      out.notMine = failure(error);
    }
    try {
      await new CometChatCalls.CallLogRequestBuilder().setAuthToken("revoked").build().fetchNext();
      out.badToken = "resolved";
    } catch (error) {
      out.badToken = failure(error);
    }
    try {
      await builder().setLimit(500).build().fetchNext();
      out.badLimit = "resolved";
    } catch (error) {
      out.badLimit = failure(error);
    }
    return out;
  }

  async function blocked() {
    try {
      const logs = await builder().build().fetchNext();
      return { resolved: logs.length };
    } catch (error) {
      return { rejected: failure(error) };
    }
  }

  async function main() {
    const settings = new CometChatCalls.CallAppSettingsBuilder()
      .setAppId(params.get("appId"))
      .setRegion("us")
      .setHost(`${host}/v3.0/`)
      .build();
    await CometChatCalls.init(settings);
    return scenario === "blocked" ? blocked() : full();
  }

  window.addEventListener("load", () => {
    main().then(
      (result) => { window.__result = { ok: true, result }; },
      (error) => { window.__result = { ok: false, error: String(error && (error.stack || error.message || error)) }; },
    );
  });
})();
