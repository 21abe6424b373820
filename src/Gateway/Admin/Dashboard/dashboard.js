// Portico admin dashboard. Plain JavaScript, no build step. The admin token lives in this closure only (never in
// storage, never in a URL); the live stream is read with fetch() so the token travels in the Authorization header.
(() => {
  'use strict';
  const api = new URL('api/', location.href).pathname;       // {PathPrefix}/api/
  const authToken = new URL('/api/auth/token', location.href); // Identity's token endpoint, through the gateway
  const HISTORY = 60;
  let token = null;
  let stream = null;
  let traceUrl = null;
  let editedVersion = null;
  const series = new Map();             // route -> { rps: [], p99: [] }
  const totals = { rps: [], p99: [], errors: [] };
  const $ = (selector, root = document) => root.querySelector(selector);

  // ---- helpers -------------------------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const fmt = (n, digits = 0) => Number(n).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const ms = n => n >= 100 ? fmt(n) : fmt(n, 1);
  const bytes = n => n >= 1048576 ? fmt(n / 1048576, 1) + ' MiB' : n >= 1024 ? fmt(n / 1024, 1) + ' KiB' : fmt(n) + ' B';

  function push(list, value) {
    list.push(value);
    while (list.length > HISTORY) list.shift();
  }

  function spark(svg, values) {
    const max = Math.max(1, ...values);
    const step = 120 / (HISTORY - 1);
    const offset = HISTORY - values.length;
    const points = values.map((v, i) => `${((offset + i) * step).toFixed(1)},${(27 - (v / max) * 25).toFixed(1)}`).join(' ');
    let line = svg.querySelector('polyline');
    if (!line) {
      line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      svg.append(line);
    }
    line.setAttribute('points', points);
  }

  function sparkSvg(label) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 120 28');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    return svg;
  }

  function toast(text) {
    const box = $('#toast');
    box.textContent = text;
    box.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove('show'), 3500);
  }

  async function call(method, path, body, headers = {}) {
    const response = await fetch(api + path, {
      method,
      headers: { Authorization: 'Bearer ' + token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body,
      cache: 'no-store',
    });
    if (response.status === 401) {
      signOut('Your session ended; sign in again.');
      throw new Error('signed out');
    }
    const type = response.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await response.json() : null;
    if (!response.ok) {
      const error = new Error((data && (data.detail || data.title)) || response.statusText);
      error.problem = data;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function confirmAction(text, label) {
    const dialog = $('#confirm');
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = label;
    return new Promise(resolve => {
      const done = answer => {
        dialog.close();
        $('#confirm-ok').removeEventListener('click', ok);
        $('#confirm-cancel').removeEventListener('click', cancel);
        dialog.removeEventListener('cancel', cancel);
        resolve(answer);
      };
      const ok = () => done(true);
      const cancel = event => { event.preventDefault(); done(false); };
      $('#confirm-ok').addEventListener('click', ok);
      $('#confirm-cancel').addEventListener('click', cancel);
      dialog.addEventListener('cancel', cancel);
      dialog.showModal();
      $('#confirm-cancel').focus();
    });
  }

  async function act(text, label, method, path, done) {
    if (!await confirmAction(text, label)) return;
    try {
      const result = await call(method, path);
      toast(done(result));
      await refreshAll();
    } catch (error) {
      if (error.message !== 'signed out') toast('Failed: ' + error.message);
    }
  }

  // ---- sign in / out -------------------------------------------------------------------------------------------
  async function signIn(newToken) {
    token = newToken;
    try {
      const overview = await call('GET', 'overview');
      traceUrl = overview.traceUrl || null;
    } catch (error) {
      token = null;
      $('#sign-in-error').textContent = error.status === 403 ? 'This account is not an admin.' : 'Sign-in failed: ' + error.message;
      return;
    }
    $('#sign-in').hidden = true;
    $('#main').hidden = false;
    $('#nav').hidden = false;
    $('#sign-out').hidden = false;
    $('#sign-in-error').textContent = '';
    await refreshAll();
    await loadConfig();
    connect();
  }

  function signOut(message) {
    token = null;
    if (stream) stream.abort();
    stream = null;
    $('#main').hidden = true;
    $('#nav').hidden = true;
    $('#sign-out').hidden = true;
    $('#sign-in').hidden = false;
    $('#live-state').textContent = 'signed out';
    $('#live-state').className = 'meta live';
    $('#sign-in-error').textContent = message || '';
    $('#config-text').value = '';
  }

  $('#login-form').addEventListener('submit', async event => {
    event.preventDefault();
    const form = new FormData(event.target);
    $('#sign-in-error').textContent = '';
    try {
      const response = await fetch(authToken, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', email: form.get('email'), password: form.get('password') }),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok || !data.access_token) {
        $('#sign-in-error').textContent = data.detail || data.title || 'Sign-in failed (' + response.status + ').';
        return;
      }
      event.target.reset();
      await signIn(data.access_token);
    } catch (error) {
      $('#sign-in-error').textContent = 'Identity cannot be reached: ' + error.message;
    }
  });

  $('#token-form').addEventListener('submit', async event => {
    event.preventDefault();
    const value = new FormData(event.target).get('token').trim();
    event.target.reset();
    await signIn(value);
  });
  $('#sign-out').addEventListener('click', () => signOut());

  // ---- data ----------------------------------------------------------------------------------------------------
  let routes = [];
  let drainScope = 'instance';
  const whereDrained = () => drainScope === 'all-instances' ? 'on every gateway instance' : 'on this gateway instance only';
  async function refreshAll() {
    const [routeList, clusters, cache, jobs, overview, transcoding] = await Promise.all([
      call('GET', 'routes'), call('GET', 'clusters'), call('GET', 'cache'), call('GET', 'jobs'), call('GET', 'overview'), call('GET', 'transcoding'),
    ]);
    routes = routeList;
    $('#version').textContent = 'version ' + overview.configVersion;
    drainScope = overview.drainScope;
    renderRoutes();
    renderClusters(clusters);
    renderCache(cache);
    renderJobs(jobs);
    renderTranscoding(transcoding);
  }

  function renderTranscoding(services) {
    const list = services.map(s => el('article', { class: 'service', 'data-service': s.service },
      el('h3', {}, el('code', {}, s.service),
        el('span', { class: 'hint', 'data-figure': 'source' }, [
          s.status === 'pending' ? 'descriptors pending (' + s.source + ')' : s.source + (s.sourceFile ? ' ' + s.sourceFile : ''),
          s.loadedAt ? ' · loaded ' + new Date(s.loadedAt).toLocaleString() : '',
          s.cluster ? ' · cluster ' + s.cluster : '',
          s.transcoded ? ' · auth: ' + s.authorization : ' · not transcoded (compiled contract)',
        ].join(''))),
      s.methods.length ? el('div', { class: 'scroll' }, el('table', { class: 'grid' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Method'), el('th', { scope: 'col' }, 'Kind'), el('th', { scope: 'col' }, 'HTTP'))),
        el('tbody', {}, s.methods.map(m => el('tr', { 'data-method': m.name },
          el('th', { scope: 'row' }, el('code', { title: m.input + ' → ' + m.output }, m.name)),
          el('td', {}, m.kind),
          el('td', {}, m.bindings.length
            ? m.bindings.map(b => el('div', { class: b.served ? '' : 'bad-text' }, el('code', {}, b.method + ' ' + b.path), b.served ? '' : ' (taken by another route)'))
            : el('span', { class: 'hint' }, 'no HTTP route'))))))) : null,
      s.skipped.length ? el('ul', { class: 'errors' }, s.skipped.map(reason => el('li', {}, reason))) : null));
    $('#transcoding-list').replaceChildren(...(list.length ? list : [el('p', { class: 'hint' }, 'No gRPC service is known to this gateway.')]));
  }

  function renderRoutes() {
    const body = $('#routes-table tbody');
    const rows = routes.map(route => {
      const row = el('tr', { 'data-route': route.routeId },
        el('th', { scope: 'row' }, el('code', {}, route.routeId), route.kind !== 'proxy' ? el('span', { class: 'hint' }, ' ' + route.kind) : null),
        el('td', {}, el('code', {}, (route.methods ? route.methods.join(',') + ' ' : '') + (route.path || ''))),
        el('td', {}, route.clusterId || (route.steps ? route.steps.join(', ') : '')),
        el('td', { class: 'policies' }, [
          'auth: ' + route.authorization,
          route.cache ? ' · cache: ' + route.cache : '',
          route.rateLimit ? ' · limit: ' + route.rateLimit : '',
          route.resilience ? ' · resilience: ' + route.resilience : '',
          route.timeout ? ' · timeout: ' + route.timeout : '',
        ].join('')),
        el('td', { class: 'num', 'data-figure': 'rps' }, '0'),
        el('td', { class: 'num', 'data-figure': 'p50' }, '–'),
        el('td', { class: 'num', 'data-figure': 'p99' }, '–'),
        el('td', { class: 'num', 'data-figure': 'errors' }, '0'),
        el('td', {}, sparkSvg('Requests per second of ' + route.routeId + ' over the last minute')));
      const history = series.get(route.routeId);
      if (history) spark(row.querySelector('svg'), history.rps);
      return row;
    });
    body.replaceChildren(...rows);
  }

  function renderClusters(clusters) {
    let healthy = 0, total = 0, unhealthy = 0;
    const list = clusters.map(cluster => el('article', { class: 'cluster', 'data-cluster': cluster.clusterId },
      el('h3', {}, el('code', {}, cluster.clusterId),
        el('span', { class: 'hint' }, `${cluster.loadBalancingPolicy} · ${cluster.availableDestinations} of ${cluster.destinations.length} available`)),
      el('div', { class: 'destinations' }, cluster.destinations.map(d => {
        total++;
        if (d.status === 'healthy' || d.status === 'unknown') healthy++;
        if (d.status === 'unhealthy' || d.status === 'open') unhealthy++;
        const label = `${cluster.clusterId} / ${d.destinationId}`;
        const breakerOpen = d.breakers.some(b => b.state !== 'closed');
        return el('div', { class: 'destination ' + d.status, 'data-destination': d.destinationId, 'data-status': d.status, role: 'group', 'aria-label': `${label}: ${d.status}` },
          el('span', { class: 'name' }, d.destinationId),
          el('span', { class: 'state' }, d.status),
          el('span', { class: 'facts' }, `${d.address} · active ${d.activeHealth.toLowerCase()} · passive ${d.passiveHealth.toLowerCase()} · in flight ${d.concurrentRequests}`
            + (d.breakers.length ? ' · breaker ' + d.breakers.map(b => b.state).join('/') : '')),
          el('div', { class: 'actions' },
            d.drained
              ? el('button', { type: 'button', class: 'small', onclick: () => act(`Put ${label} back into load balancing ${whereDrained()}?`, 'Undrain', 'POST',
                  `clusters/${encodeURIComponent(cluster.clusterId)}/destinations/${encodeURIComponent(d.destinationId)}/undrain`, () => `${label} undrained`) }, 'Undrain…')
              : el('button', { type: 'button', class: 'small', onclick: () => act(`Drain ${label} ${whereDrained()}? No new requests go to it; those in flight finish.`, 'Drain', 'POST',
                  `clusters/${encodeURIComponent(cluster.clusterId)}/destinations/${encodeURIComponent(d.destinationId)}/drain`,
                  r => r.warning || `${label} drained ${whereDrained()}`) }, 'Drain…'),
            el('button', { type: 'button', class: 'small', disabled: !breakerOpen, onclick: () => act(`Close the circuit breaker of ${label}?`, 'Reset breaker', 'POST',
              `clusters/${encodeURIComponent(cluster.clusterId)}/destinations/${encodeURIComponent(d.destinationId)}/reset-breaker`,
              r => `${r.breakersReset} breaker(s) reset`) }, 'Reset breaker…')));
      }))));
    // A health event redraws the list; keep keyboard focus on the same action of the same destination.
    const focused = document.activeElement;
    const tile = focused && focused.closest ? focused.closest('[data-destination]') : null;
    const keep = tile && focused.tagName === 'BUTTON'
      ? { cluster: tile.closest('[data-cluster]').dataset.cluster, destination: tile.dataset.destination,
          index: [...tile.querySelectorAll('button')].indexOf(focused) }
      : null;
    $('#cluster-list').replaceChildren(...list);
    if (keep) {
      const again = [...$('#cluster-list').querySelectorAll('[data-cluster]')].find(c => c.dataset.cluster === keep.cluster);
      const target = again && [...again.querySelectorAll('[data-destination]')].find(d => d.dataset.destination === keep.destination);
      const button = target && target.querySelectorAll('button')[keep.index];
      if (button) button.focus();
    }
    $('#total-healthy').textContent = `${healthy} / ${total}`;
    $('#total-unhealthy').textContent = unhealthy ? `${unhealthy} unhealthy or open` : '';
  }

  function renderCache(policies) {
    const rows = policies.map(p => el('tr', { 'data-policy': p.policy },
      el('th', { scope: 'row' }, el('code', {}, p.policy)),
      el('td', {}, p.routes.join(', ')),
      el('td', {}, p.mode),
      el('td', { class: 'num', 'data-figure': 'hit-ratio' }, p.hitRatio === null ? '–' : fmt(p.hitRatio * 100, 1) + ' %'),
      el('td', { class: 'num', 'data-figure': 'entries' }, fmt(p.entries)),
      el('td', { class: 'num' }, bytes(p.bytes)),
      el('td', {}, el('div', { class: 'actions' },
        p.routes.map(route => el('button', { type: 'button', class: 'small', onclick: () => act(`Purge every cached answer of route ${route}, on every instance?`, 'Purge',
          'DELETE', 'cache?route=' + encodeURIComponent(route), r => `Purged ${r.removedHere} here`) }, 'Purge ' + route + '…')),
        p.tags.map(tag => el('button', { type: 'button', class: 'small', onclick: () => act(`Purge every cached answer tagged ${tag}, on every instance?`, 'Purge',
          'DELETE', 'cache?tag=' + encodeURIComponent(tag), r => `Purged ${r.removedHere} here`) }, 'Purge tag ' + tag + '…'))))));
    $('#cache-table tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 7, class: 'hint' }, 'No route uses a cache policy.'))]));
  }

  function renderJobs(jobs) {
    const body = $('#jobs-body');
    if (!jobs.enabled) {
      body.replaceChildren(el('p', { class: 'hint' }, 'Jobs are off in this gateway (Portico:Jobs:Queues is empty).'));
      return;
    }
    if (jobs.unavailable) {
      body.replaceChildren(el('p', { class: 'bad-text' }, jobs.unavailable));
      return;
    }
    // A depth the transport cannot read is null: shown as a dash, never as zero.
    const count = n => n === null || n === undefined ? '–' : fmt(n);
    const depth = d => !d ? '–' : `${count(d.waiting)} waiting · ${count(d.inFlight)} in flight · ${count(d.deadLettered)} dead · ${d.consumers} consumer(s)`;
    body.replaceChildren(
      el('p', {}, `${fmt(jobs.live)} live job(s) · ${fmt(jobs.deadLettered)} dead-lettered` + (jobs.transport ? ` · broker: ${jobs.transport}` : '')),
      jobs.queueDepthsUnavailable ? el('p', { class: 'bad-text' }, jobs.queueDepthsUnavailable) : null,
      el('div', { class: 'scroll' }, el('table', { class: 'grid' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Job'), el('th', { scope: 'col' }, 'Route'), el('th', { scope: 'col' }, 'Queue'),
          el('th', { scope: 'col', class: 'num' }, 'Queued'), el('th', { scope: 'col', class: 'num' }, 'Running'),
          el('th', { scope: 'col' }, 'In-queue (requests)'), el('th', { scope: 'col' }, 'Out-queue (answers)'))),
        el('tbody', {}, jobs.routes.map(r => el('tr', { 'data-job': r.name },
          el('th', { scope: 'row' }, el('code', {}, r.name)), el('td', {}, el('code', {}, r.method + ' ' + r.path)), el('td', {}, el('code', {}, r.queue)),
          el('td', { class: 'num' }, fmt(r.live.queued || 0)), el('td', { class: 'num' }, fmt(r.live.running || 0)),
          el('td', { class: 'mono', 'data-figure': 'in-queue' }, depth(r.inQueueDepth)), el('td', { class: 'mono', 'data-figure': 'out-queue' }, depth(r.outQueueDepth))))))));
  }

  function onFigures(data) {
    let rps = 0, errors = 0, p99 = 0;
    const seen = new Set();
    for (const r of data.routes) {
      seen.add(r.route);
      rps += r.requests;
      errors += r.serverErrors;
      p99 = Math.max(p99, r.p99Ms);
    }
    for (const route of routes) {
      const figures = data.routes.find(r => r.route === route.routeId) || { requests: 0, serverErrors: 0, p50Ms: 0, p99Ms: 0 };
      let history = series.get(route.routeId);
      if (!history) series.set(route.routeId, history = { rps: [], p99: [] });
      push(history.rps, figures.requests);
      push(history.p99, figures.p99Ms);
      const row = document.querySelector(`#routes-table tr[data-route="${CSS.escape(route.routeId)}"]`);
      if (!row) continue;
      row.querySelector('[data-figure="rps"]').textContent = fmt(figures.requests);
      row.querySelector('[data-figure="p50"]').textContent = figures.requests ? ms(figures.p50Ms) : '–';
      row.querySelector('[data-figure="p99"]').textContent = figures.requests ? ms(figures.p99Ms) : '–';
      row.querySelector('[data-figure="errors"]').textContent = fmt(figures.serverErrors);
      spark(row.querySelector('svg'), history.rps);
    }
    push(totals.rps, rps);
    push(totals.p99, p99);
    push(totals.errors, errors);
    $('#total-rps').textContent = fmt(rps);
    $('#total-p99').textContent = ms(p99) + ' ms';
    $('#total-errors').textContent = fmt(errors);
    spark($('#spark-rps'), totals.rps);
    spark($('#spark-p99'), totals.p99);
    spark($('#spark-errors'), totals.errors);

    const body = $('#requests-table tbody');
    for (const s of data.samples) {
      const link = traceUrl && s.traceId ? el('a', { href: traceUrl.replace('{traceId}', s.traceId), target: '_blank', rel: 'noopener noreferrer' }, s.traceId.slice(0, 8) + '…') : (s.traceId ? s.traceId.slice(0, 8) + '…' : '–');
      body.prepend(el('tr', {},
        el('td', { class: 'mono' }, new Date(s.at).toLocaleTimeString()),
        el('td', { class: 'num status-' + String(s.status)[0] }, s.status),
        el('td', {}, el('code', {}, s.method + ' ' + s.path)),
        el('td', {}, s.route || '–'),
        el('td', { class: 'num' }, ms(s.durationMs)),
        el('td', { class: 'mono' }, link)));
    }
    while (body.rows.length > 50) body.deleteRow(body.rows.length - 1);
  }

  let clusterRefresh = null;
  function onDestination() {
    // Several destinations often change in one second: fetch the clusters once for all of them.
    clearTimeout(clusterRefresh);
    clusterRefresh = setTimeout(async () => renderClusters(await call('GET', 'clusters')), 100);
  }

  // ---- live stream (server-sent events over fetch, so the token stays in a header) ------------------------------
  async function connect() {
    if (!token) return;
    const controller = new AbortController();
    stream = controller;
    const state = $('#live-state');
    try {
      const response = await fetch(api + 'live', { headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' }, signal: controller.signal });
      if (response.status === 401) { signOut('Your session ended; sign in again.'); return; }
      if (!response.ok) throw new Error('HTTP ' + response.status);
      state.textContent = 'live';
      state.className = 'meta live on';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) type = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trimStart();
          }
          if (!data) continue;
          const payload = JSON.parse(data);
          if (type === 'figures') onFigures(payload);
          else if (type === 'destination') onDestination(payload);
          else if (type === 'snapshot') renderClusters(payload.clusters);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    if (stream !== controller || !token) return;
    state.textContent = 'reconnecting…';
    state.className = 'meta live off';
    setTimeout(connect, 2000);
  }

  // Cache, jobs and routes change without events; read them every few seconds while signed in.
  setInterval(async () => {
    if (!token || document.hidden) return;
    try {
      const [cache, jobs] = await Promise.all([call('GET', 'cache'), call('GET', 'jobs')]);
      renderCache(cache);
      renderJobs(jobs);
    } catch { /* shown on the next action */ }
  }, 5000);

  // ---- config editor --------------------------------------------------------------------------------------------
  async function loadConfig() {
    const config = await call('GET', 'config');
    editedVersion = config.version;
    $('#config-text').value = config.text;
    $('#version').textContent = 'version ' + config.version;
    showErrors(null, 'Version ' + config.version + ' in force.');
    await loadVersions();
  }

  async function loadVersions() {
    const versions = await call('GET', 'config/versions');
    $('#versions').replaceChildren(...versions.map((v, i) => el('li', { 'data-version': v.version },
      el('code', {}, v.version), ` ${new Date(v.appliedAt).toLocaleString()} by ${v.by} · ${v.routes} routes`,
      i === 0 ? el('span', { class: 'hint' }, ' (in force)') : el('button', { type: 'button', class: 'small', onclick: () => act(
        `Roll the gateway file back to version ${v.version}? It is checked first and written to the file.`, 'Roll back', 'POST',
        `config/versions/${v.version}/rollback`, r => `Version ${r.version} in force`).then(loadConfig) }, 'Roll back…'))));
  }

  function showErrors(errors, status) {
    const list = $('#config-errors');
    list.replaceChildren(...(errors || []).map(e => el('li', {}, e)));
    $('#config-status').textContent = status;
    $('#config-status').className = errors && errors.length ? 'bad-text' : 'ok-text';
  }

  $('#config-validate').addEventListener('click', async () => {
    try {
      const result = await call('POST', 'config/validate', $('#config-text').value);
      showErrors(result.errors, result.valid ? 'Valid: nothing applied yet.' : `${result.errors.length} error(s); nothing applied.`);
    } catch (error) {
      showErrors([error.message], 'Not checked.');
    }
  });

  $('#config-apply').addEventListener('click', async () => {
    if (!await confirmAction('Apply this gateway file? It is checked first, then written where the gateway reads it and put in force.', 'Apply')) return;
    try {
      const applied = await call('PUT', 'config', $('#config-text').value, editedVersion ? { 'If-Match': `"${editedVersion}"` } : {});
      toast('Version ' + applied.version + ' in force');
      await loadConfig();
      await refreshAll();
    } catch (error) {
      if (error.problem && error.problem.errors) showErrors(error.problem.errors, `${error.problem.errors.length} error(s); nothing applied.`);
      else showErrors([error.message], 'Nothing applied.');
    }
  });

  $('#config-reload').addEventListener('click', () => loadConfig());

  // Tab in the editor indents instead of leaving it; Escape then Tab leaves (keyboard users are never trapped).
  let escaped = false;
  $('#config-text').addEventListener('keydown', event => {
    if (event.key === 'Escape') { escaped = true; return; }
    if (event.key === 'Tab' && !event.shiftKey && !escaped) {
      event.preventDefault();
      const area = event.target;
      const start = area.selectionStart;
      area.setRangeText('  ', start, area.selectionEnd, 'end');
    }
    escaped = false;
  });

  $('#purge-prefix').addEventListener('submit', async event => {
    event.preventDefault();
    const prefix = new FormData(event.target).get('prefix');
    await act(`Purge every cached answer under ${prefix}, on every instance?`, 'Purge', 'DELETE', 'cache?prefix=' + encodeURIComponent(prefix), r => `Purged ${r.removedHere} here`);
  });
})();
