namespace Push.Gateway.WebSockets;

/// <summary>The small page `push start` serves at GET /: connects, shows its client id and every message.</summary>
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
<script>
const log = document.getElementById('log');
function add(line) { const d = document.createElement('div'); d.className = 'msg'; d.textContent = line; log.appendChild(d); log.scrollTop = log.scrollHeight; }
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
ws.onopen = () => { document.getElementById('status').textContent = 'connected'; };
ws.onclose = e => { document.getElementById('status').textContent = 'closed (' + e.code + (e.reason ? ': ' + e.reason : '') + ')'; };
ws.onmessage = e => {
  const text = typeof e.data === 'string' ? e.data : '[binary ' + (e.data.size || e.data.byteLength) + ' bytes]';
  try { const m = JSON.parse(text); if (m && m.clientId) { document.getElementById('client-id').textContent = m.clientId; document.querySelectorAll('.cid').forEach(x => x.textContent = m.clientId); } } catch (_) {}
  add(text);
};
document.getElementById('form').onsubmit = ev => { ev.preventDefault(); const i = document.getElementById('input'); if (i.value) { ws.send(i.value); i.value = ''; } };
</script>
</body>
</html>
""";
}
