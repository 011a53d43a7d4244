namespace Push.Gateway.WebSockets;

/// <summary>
/// The small page `push start` serves at GET /: connects through the JavaScript SDK (served at GET /push-client.js,
/// a copy of clients/js/dist/push-client.js embedded in this assembly and checked against a fresh build by
/// DemoPageSdkBundleTests), shows its client id, every message with its sequence number, and resumes.
/// The page is clients/js/examples/demo-page.html.
/// </summary>
internal static class DemoPage
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Push.Grpc demo</title>
<link rel="icon" href="data:,">
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 50rem; }
.note { color: #777; }
#log { border: 1px solid #ccc; padding: .5rem; height: 20rem; overflow-y: auto; font-family: monospace; white-space: pre-wrap; }
code { background: #f3f3f3; padding: 0 .2rem; }
</style>
</head>
<body>
<h1>Push.Grpc demo</h1>
<p>Status: <span id="status">connecting</span></p>
<p>Client id: <code id="client-id">(waiting)</code></p>
<form id="form"><input id="input" size="50" placeholder='text to echo, or {"type":"join","group":"room1"}'> <button>Send</button></form>
<h2>Messages</h2>
<div id="log"></div>
<p>Push to this page from a shell, for example:<br>
<code>grpcurl -plaintext -d '{"client_id":"<span class="cid">ID</span>","text":"hello"}' 127.0.0.1:8283 push.v1.GatewayService/SendToClient</code></p>
<script type="module">
// The demo page on @push-grpc/client (clients/js): the gateway serves the SDK's one-file build at /push-client.js.
import { PushClient } from '/push-client.js';
const log = document.getElementById('log');
const status = document.getElementById('status');
function add(line, seq) {
  const d = document.createElement('div');
  d.className = 'msg';
  if (seq !== undefined) { d.dataset.seq = String(seq); d.title = 'seq ' + seq; }
  d.textContent = line;
  log.appendChild(d);
  log.scrollTop = log.scrollHeight;
}
function note(line) { const d = document.createElement('div'); d.className = 'note'; d.textContent = line; log.appendChild(d); }
function showId(id) {
  document.getElementById('client-id').textContent = id;
  document.querySelectorAll('.cid').forEach((x) => { x.textContent = id; });
}
const client = new PushClient({ url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' });
client.on('open', (e) => {
  status.textContent = e.resumed ? 'connected (resumed)' : 'connected';
  showId(e.clientId);
  if (e.resumed) note('[resumed ' + e.clientId + ' after seq ' + e.seq + ']');
});
client.on('notResumed', (e) => note('[not resumed (' + e.reason + '): new client id]'));
client.on('resumeLost', (e) => note('[no longer resumable: ' + e.reason + ']'));
client.on('message', (m) => add(typeof m.data === 'string' ? m.data : '[binary ' + m.data.byteLength + ' bytes]', m.seq));
client.on('reconnecting', (e) => { status.textContent = 'reconnecting in ' + e.delayMs + ' ms (attempt ' + e.attempt + ')'; });
client.on('close', (e) => {
  status.textContent = 'closed (' + e.code + (e.reason ? ': ' + e.reason : '') + ')' + (e.willReconnect ? ', reconnecting' : '');
});
client.connect().catch(() => {});
document.getElementById('form').onsubmit = (ev) => {
  ev.preventDefault();
  const i = document.getElementById('input');
  if (i.value) {
    if (!client.send(i.value)) note('[not connected: not sent]');
    i.value = '';
  }
};
</script>
</body>
</html>
""";

    private static readonly Lazy<byte[]> Bundle = new(() =>
    {
        using var stream = typeof(DemoPage).Assembly.GetManifestResourceStream("Push.Gateway.WebSockets.push-client.js")
            ?? throw new InvalidOperationException("the embedded push-client.js is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>The SDK's one-file browser build (an ES module).</summary>
    public static byte[] SdkBundle => Bundle.Value;
}
