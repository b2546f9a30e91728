// The browser softphone: "Talk to the assistant" calls the bridge from this page.
//
// 1. The microphone (getUserMedia) and an AudioContext with two worklets: capture (resample to
//    8 kHz, µ-law, 20 ms frames) and playback (the assistant's audio, marks, clear).
// 2. POST /calls/browser (Bearer API token) mints a CallSid and a one-use stream token, as the
//    voice webhook does for a phone call.
// 3. A WebSocket to the stream URL speaking Twilio Media Streams: connected, start (with the token
//    and direction 'browser'), a media message every 20 ms; the bridge's media is played, `clear`
//    empties playback at once (barge-in), and each `mark` is echoed when the audio before it has
//    played, so the bridge truncates the assistant's turn at what was heard.
// 4. Hang up: stop, then close.
//
// The element's data-* attributes carry the call's figures (state, callSid, frames sent, bytes
// received, 8 kHz samples played and queued, clears, marks echoed and the samples played before
// the last one echoed for having played): the page shows some of them, and the browser tests read them.
import { api, describe } from './api.js';
import { h, show } from './dom.js';
import { connectedMessage, mediaMessage, markMessage, newStreamSid, parseBridgeMessage, startMessage, stopMessage, toBase64 } from './media-stream.js';

/** 20 ms of µ-law at 8 kHz, and what a frame adds to the stream's clock, ms. */
const FRAME_MS = 20;

export function softphone(root) {
  const talk = h('button', { type: 'button', id: 'talk', class: 'primary' }, 'Talk to the assistant');
  const hangUp = h('button', { type: 'button', id: 'hang-up', class: 'danger', hidden: true }, 'Hang up');
  const meter = h('meter', { id: 'mic-level', min: 0, max: 0.3, value: 0, hidden: true, title: 'Microphone level' });
  const status = h('span', { id: 'softphone-status', class: 'status', role: 'status' }, '');
  show(root, talk, hangUp, meter, status);

  let call = null;
  const figures = { sentFrames: 0, receivedBytes: 0, playedSamples: 0, queuedSamples: 0, clears: 0, marksEchoed: 0, lastMarkPlayed: 0 };
  const publish = () => {
    for (const [key, value] of Object.entries(figures)) root.dataset[key] = String(value);
  };
  const setState = (state, text) => {
    root.dataset.state = state;
    status.textContent = text;
    talk.hidden = state === 'live' || state === 'starting';
    hangUp.hidden = state !== 'live';
    meter.hidden = state !== 'live';
  };
  setState('idle', '');
  publish();

  talk.addEventListener('click', () => {
    if (call) return;
    for (const key of Object.keys(figures)) figures[key] = 0;
    publish();
    call = startCall();
    call.done.then(
      (text) => {
        call = null;
        setState('ended', text);
      },
      (err) => {
        call = null;
        setState('failed', describe(err));
      },
    );
  });
  hangUp.addEventListener('click', () => call?.hangUp());

  function startCall() {
    let hangUp = () => undefined;
    const done = (async () => {
      setState('starting', 'Asking for the microphone…');
      // Created in the click (a user gesture), so it may play.
      const context = new AudioContext({ latencyHint: 'interactive' });
      let microphone = null;
      let socket = null;
      try {
        microphone = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
        await context.audioWorklet.addModule(new URL('./capture-worklet.js', import.meta.url));
        await context.audioWorklet.addModule(new URL('./playback-worklet.js', import.meta.url));
        const capture = new AudioWorkletNode(context, 'vb-capture', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
        const playback = new AudioWorkletNode(context, 'vb-playback', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
        const mute = new GainNode(context, { gain: 0 });
        context.createMediaStreamSource(microphone).connect(capture).connect(mute).connect(context.destination);
        playback.connect(context.destination);
        await context.resume();

        setState('starting', 'Calling…');
        const { callSid, streamUrl, token } = await api.startBrowserCall();
        root.dataset.callSid = callSid;
        const streamSid = newStreamSid();
        socket = new WebSocket(streamUrl);
        let sequenceNumber = 1; // the start's
        let chunk = 0;
        let live = false;
        const send = (text) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(text);
        };

        capture.port.onmessage = ({ data }) => {
          meter.value = data.level;
          if (!live) return;
          chunk += 1;
          sequenceNumber += 1;
          send(mediaMessage({ streamSid, sequenceNumber, chunk, timestamp: (chunk - 1) * FRAME_MS, payload: toBase64(data.frame) }));
          figures.sentFrames += 1;
        };
        playback.port.onmessage = ({ data }) => {
          if (data.type === 'mark') {
            sequenceNumber += 1;
            send(markMessage({ streamSid, sequenceNumber, name: data.name }));
            figures.marksEchoed += 1;
            if (!data.cleared) figures.lastMarkPlayed = data.played;
          } else if (data.type === 'progress') {
            figures.playedSamples = data.played;
            figures.queuedSamples = data.queued;
            if (live) status.textContent = `In call · heard ${(data.played / 8000).toFixed(1)} s of the assistant`;
          }
          publish();
        };
        socket.onmessage = ({ data }) => {
          const message = parseBridgeMessage(data);
          if (message === null) return;
          if (message.kind === 'media') {
            figures.receivedBytes += message.audio.length;
            playback.port.postMessage({ type: 'audio', bytes: message.audio }, [message.audio.buffer]);
          } else if (message.kind === 'mark') {
            playback.port.postMessage({ type: 'mark', name: message.name });
          } else {
            figures.clears += 1;
            playback.port.postMessage({ type: 'clear' });
          }
          publish();
        };

        const ended = new Promise((resolve) => {
          socket.onclose = (event) => resolve(event);
        });
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error('the bridge refused the call\'s stream'));
        });
        send(connectedMessage());
        send(startMessage({ streamSid, callSid, token }));
        live = true;
        setState('live', 'In call');
        hangUp = () => {
          if (!live) return;
          live = false;
          sequenceNumber += 1;
          send(stopMessage({ streamSid, sequenceNumber, callSid }));
          socket.close(1000, 'hang up');
        };
        const close = await ended;
        const byUs = !live;
        live = false;
        return byUs ? 'Call ended. It is in the history.' : `The bridge ended the call (${close.code}${close.reason ? `: ${close.reason}` : ''}).`;
      } finally {
        if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'hang up');
        if (microphone) for (const track of microphone.getTracks()) track.stop();
        await context.close().catch(() => undefined);
      }
    })();
    return { done, hangUp: () => hangUp() };
  }
}
