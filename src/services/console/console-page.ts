/**
 * The console page (`/console/vnc.html?token=…`): noVNC's RFB client, loaded as ES modules from
 * `/console/novnc/`, connected to this node's websocket with the page's token. No framework, no build.
 */
export const CONSOLE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strato console</title>
<style>
  html, body { margin: 0; height: 100%; background: #202124; color: #e8eaed; font: 14px system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { display: flex; gap: 12px; align-items: center; padding: 6px 12px; background: #303134; }
  #status { flex: 1; }
  #screen { flex: 1; overflow: hidden; }
  button { font: inherit; }
</style>
</head>
<body>
<header><span id="status">Connecting…</span><button id="cad" disabled>Send Ctrl-Alt-Del</button></header>
<div id="screen"></div>
<script type="module">
  import RFB from './novnc/core/rfb.js';
  const status = document.getElementById('status');
  const cad = document.getElementById('cad');
  const token = new URLSearchParams(location.search).get('token');
  if (!token) {
    status.textContent = 'No console token in the URL: request one with RequestConsoleAccess.';
  } else {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const rfb = new RFB(document.getElementById('screen'), scheme + '://' + location.host + '/console/ws?token=' + encodeURIComponent(token));
    rfb.scaleViewport = true;
    rfb.addEventListener('connect', () => { status.textContent = 'Connected'; cad.disabled = false; });
    rfb.addEventListener('desktopname', (e) => { document.title = e.detail.name + ' - Strato console'; });
    rfb.addEventListener('disconnect', (e) => {
      cad.disabled = true;
      // A console token opens one connection: reconnecting needs a new URL.
      status.textContent = e.detail.clean ? 'Disconnected.' : 'The console could not be opened or was lost (a console URL works once and expires): request a new one.';
    });
    cad.addEventListener('click', () => rfb.sendCtrlAltDel());
  }
</script>
</body>
</html>
`;
