// sqlink web console. No inline script, no library: DOM built with
// textContent only (never innerHTML with data), chart drawn as SVG.
'use strict';
(function () {
  var me = null; // {principal, permissions, csrf}
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) { for (var k in attrs) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); } }
    function add(c) {
      if (c == null) return;
      if (Array.isArray(c)) { c.forEach(add); return; }
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    for (var i = 2; i < arguments.length; i++) add(arguments[i]);
    return e;
  }
  function can(p) { return me && me.permissions.indexOf(p) >= 0; }

  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: {} };
    if (method !== 'GET') { opts.headers['X-CSRF-Token'] = me ? me.csrf : ''; }
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) {
          var err = (j && j.error) || { code: String(r.status), message: t || r.statusText };
          if (r.status === 401 && path.indexOf('/console/api/signin') < 0) { showSignIn(); }
          throw err;
        }
        return j;
      });
    });
  }
  function errorBlock(step, e) {
    return el('div', { class: 'bad result', role: 'alert' },
      (step ? 'Step: ' + step + '\n' : '') + 'Cause: ' + (e.message || e) + (e.code ? ' (' + e.code + ')' : '') +
      (e.hint ? '\nHint: ' + e.hint : ''));
  }

  function fmtBytes(n) {
    if (n == null) return '';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  function show(v) {
    if (v == null) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function table(headers, rows) {
    var t = el('table', null, el('thead', null, el('tr', null)), el('tbody'));
    headers.forEach(function (h) { t.tHead.rows[0].appendChild(el('th', { scope: 'col', text: h })); });
    rows.forEach(function (r) {
      // On a phone each row becomes a card; the labels come from here.
      for (var i = 0; i < r.cells.length; i++) r.cells[i].setAttribute('data-label', headers[i] || '');
      t.tBodies[0].appendChild(r);
    });
    return el('div', { class: 'scroll' }, t);
  }
  function kv(obj) {
    var rows = Object.keys(obj || {}).filter(function (k) { return k !== 'pem'; }).map(function (k) {
      return el('tr', null, el('th', { scope: 'row', text: k }), el('td', { text: show(obj[k]) }));
    });
    return table(['Field', 'Value'], rows);
  }
  function setPage(title) {
    var p = $('page');
    p.textContent = '';
    p.appendChild(el('h1', { text: title }));
    return p;
  }

  // Health: problems stand out by colour and words.
  function healthCell(h, state) {
    var cls = h === 'HEALTHY' ? 'ok' : (h === 'PARTIALLY_HEALTHY' ? 'warn' : 'bad');
    var words = h === 'HEALTHY' ? 'Healthy' : (h === 'PARTIALLY_HEALTHY' ? 'Problem: partially healthy' : 'Problem: not healthy');
    return el('td', { class: cls, text: words + ' (' + (h || 'unknown') + ')' });
  }
  function linkProblem(l) {
    return l.local.synchronization_health !== 'HEALTHY' || (l.state !== 'SYNCHRONIZED' && l.state !== 'SYNCHRONIZING');
  }

  // ---------- pages ----------
  function pageInstance() {
    var p = setPage('Instance');
    return api('GET', '/v1/instance').then(function (info) {
      p.appendChild(kv(info));
      var more = [];
      if (can('endpointCertificates/read')) {
        var cb = p.appendChild(el('div'));
        more.push(api('GET', '/v1/endpoint-certificate').then(function (c) {
          cb.appendChild(el('h2', { text: 'Certificate (replication endpoint)' }));
          cb.appendChild(kv(c));
        }));
      }
      if (can('serverTrustCertificates/read')) {
        var tb = p.appendChild(el('div'));
        more.push(api('GET', '/v1/trust-certificates').then(function (cs) {
          tb.appendChild(el('h2', { text: 'Trusted certificates' }));
          cs = cs || [];
          if (!cs.length) { tb.appendChild(el('p', { text: 'None.' })); return; }
          var keys = Object.keys(cs[0]).filter(function (k) { return k !== 'pem' && k !== 'certificate_pem'; });
          tb.appendChild(table(keys, cs.map(function (c) {
            var tr = el('tr');
            keys.forEach(function (k) { tr.appendChild(el('td', { text: show(c[k]) })); });
            return tr;
          })));
        }));
      }
      if (can('databases/read')) {
        var db = p.appendChild(el('div'));
        more.push(api('GET', '/v1/databases').then(function (dbs) {
          var data = 0, log = 0;
          (dbs || []).forEach(function (d) { data += d.size_bytes || 0; log += d.log_bytes || 0; });
          db.appendChild(el('h2', { text: 'Disk use' }));
          db.appendChild(kv({ databases: fmtBytes(data), 'replication log': fmtBytes(log), total: fmtBytes(data + log) }));
        }));
      }
      return Promise.all(more);
    });
  }

  function pageDatabases() {
    var p = setPage('Databases');
    return Promise.all([api('GET', '/v1/databases'), can('links/read') ? api('GET', '/v1/links') : Promise.resolve([])])
      .then(function (res) {
        var dbs = res[0] || [], links = res[1] || [];
        var rows = dbs.map(function (d) {
          var ls = links.filter(function (l) { return l.database === d.name; }).map(function (l) { return l.name; });
          var b = el('td');
          var row = el('tr', null, el('td', { text: d.name }), el('td', { text: d.state + (d.read_only ? ' (read-only)' : '') }),
            el('td', { text: fmtBytes(d.size_bytes) }), el('td', { text: show(d.pos) }),
            el('td', { text: fmtBytes(d.log_bytes) }), b, el('td', { text: ls.join(', ') || 'none' }));
          api('GET', '/v1/databases/' + encodeURIComponent(d.name) + '/backups').then(function (bs) {
            bs = bs || [];
            b.textContent = bs.length ? bs.length + ' (last ' + bs[bs.length - 1].created_at + ')' : 'none';
          }).catch(function () { b.textContent = 'unknown'; });
          return row;
        });
        var heads = ['Name', 'State', 'Size', 'Last commit (LSN)', 'Log kept', 'Backups', 'Links'];
        if (can('databases/readBackups/action')) {
          heads.push('Action');
          rows.forEach(function (row, i) { row.appendChild(el('td', null, backupButton(dbs[i].name))); });
        }
        p.appendChild(table(heads, rows));
        p.appendChild(el('div', { id: 'action-result', class: 'panel', role: 'status' }));
      });
  }

  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  // backupButton takes a backup as `sqlink db backup` does: the instance
  // streams it, the browser saves it as a file, and the result compares
  // the file's SHA-256 with the one the instance recorded.
  function backupButton(name) {
    var b = el('button', { type: 'button', class: 'backup', 'data-db': name, text: 'Back up ' + name });
    b.addEventListener('click', function () {
      var out = $('action-result');
      b.disabled = true;
      out.textContent = 'Backing up ' + name + '…';
      var blob;
      fetch('/v1/databases/' + encodeURIComponent(name) + '/backup', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': me.csrf } })
        .then(function (r) {
          if (!r.ok) {
            return r.json().catch(function () { return {}; }).then(function (j) { throw (j.error || { message: 'HTTP ' + r.status }); });
          }
          return r.blob();
        })
        .then(function (bl) { blob = bl; return blob.arrayBuffer(); })
        .then(function (buf) { return crypto.subtle.digest('SHA-256', buf); })
        .then(function (sum) {
          sum = hex(sum);
          return api('GET', '/v1/databases/' + encodeURIComponent(name) + '/backups').then(function (bs) {
            var rec = (bs || []).filter(function (x) { return x.sha256 === sum; })[0];
            if (!rec) throw { message: 'the downloaded backup (SHA-256 ' + sum + ') is not among the backups the instance recorded: it is incomplete', hint: 'take the backup again' };
            var a = el('a', { href: URL.createObjectURL(blob), download: name + '-' + rec.id + '.sqlink-backup', text: 'save the file again' });
            a.click();
            out.textContent = '';
            out.appendChild(el('p', { class: 'ok', text: 'Backup of ' + name + ': done — id ' + rec.id + ', LSN ' + rec.lsn + ', ' + fmtBytes(rec.size) + ', SHA-256 verified. ' }, a));
          });
        })
        .catch(function (e) { out.textContent = ''; out.appendChild(errorBlock('back up ' + name, e)); })
        .then(function () { b.disabled = false; });
    });
    return b;
  }

  function pageLinks() {
    var p = setPage('Links');
    return api('GET', '/v1/links').then(function (links) {
      var rows = [];
      (links || []).forEach(function (l) {
        [l.local, l.partner].forEach(function (r, i) {
          var tr = el('tr', linkProblem(l) ? { class: 'problem' } : null,
            el('td', null, i === 0 ? el('a', { href: '#link/' + encodeURIComponent(l.name), text: l.name }) : ''),
            el('td', { text: i === 0 ? l.state : '' }),
            el('td', { text: r.instance + (i === 0 ? ' (this instance)' : '') }),
            el('td', { text: r.role }), el('td', { text: r.synchronization_state }),
            healthCell(r.synchronization_health),
            el('td', { text: (r.secondary_lag_seconds || 0).toFixed(2) + ' s' }),
            el('td', { text: fmtBytes(r.log_send_queue_bytes) + ' / ' + fmtBytes(r.redo_queue_bytes) }));
          rows.push(tr);
        });
      });
      p.appendChild(table(['Link', 'State', 'Replica', 'Role', 'Synchronization', 'Health', 'Lag', 'Send / redo queue'], rows));
      if (!rows.length) p.appendChild(el('p', { text: 'No links on this instance.' }));
      var acts = el('p', { class: 'actions' });
      if (can('links/write')) acts.appendChild(el('a', { class: 'button', id: 'new-link', href: '#newlink', text: 'New link…' }));
      if (can('links/setRole/action') && (links || []).length) acts.appendChild(el('a', { class: 'button', id: 'failover-wizard', href: '#failover', text: 'Failover wizard…' }));
      if (acts.childNodes.length) p.appendChild(acts);
    });
  }

  function chart(samples) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 1000 200');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Secondary lag (solid) and commits per second (dashed), last hour');
    var W = 950, H = 165, x0 = 45, y0 = 16;
    // The x axis runs from the oldest sample kept (at most an hour ago)
    // to now, at least a minute wide.
    var now = Date.now(), span = 60 * 1000;
    if (samples.length) span = Math.max(span, now - Date.parse(samples[0].t));
    function path(cls, key) {
      var max = 0;
      samples.forEach(function (s) { max = Math.max(max, s[key] || 0); });
      if (max === 0) max = 1;
      var d = samples.map(function (s, i) {
        var x = x0 + W * (1 - (now - Date.parse(s.t)) / span);
        var y = y0 + H * (1 - (s[key] || 0) / max);
        return (i ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
      }).join(' ');
      var pth = document.createElementNS(ns, 'path');
      pth.setAttribute('class', cls);
      pth.setAttribute('d', d || 'M0 0');
      svg.appendChild(pth);
      return max;
    }
    var maxLag = path('lag', 'lag');
    var maxRate = path('rate', 'commits_per_second');
    var t3 = document.createElementNS(ns, 'text');
    t3.setAttribute('x', 998); t3.setAttribute('y', 12); t3.setAttribute('text-anchor', 'end');
    t3.textContent = maxRate.toFixed(1) + ' commits/s';
    svg.appendChild(t3);
    var t = document.createElementNS(ns, 'text');
    t.setAttribute('x', 2); t.setAttribute('y', 12);
    t.textContent = maxLag.toFixed(2) + ' s';
    svg.appendChild(t);
    var t2 = document.createElementNS(ns, 'text');
    t2.setAttribute('x', x0); t2.setAttribute('y', 196);
    t2.textContent = Math.round(span / 60000) + ' min ago … now (' + samples.length + ' points, lag solid, commits dashed)';
    svg.appendChild(t2);
    svg.setAttribute('data-points', String(samples.length));
    return svg;
  }

  function replicaTable(l) {
    var fields = ['instance', 'role', 'synchronization_state', 'synchronization_health', 'connected', 'database_state',
      'last_sent_lsn', 'last_received_lsn', 'last_hardened_lsn', 'last_redone_lsn', 'last_commit_lsn', 'last_commit_time',
      'log_send_queue_bytes', 'redo_queue_bytes', 'secondary_lag_seconds', 'harden_lag_seconds', 'replay_lag_seconds',
      'estimated_data_loss', 'diverged_saved', 'last_error'];
    var rows = fields.map(function (f) {
      var a = l.local[f], b = l.partner[f];
      if (f === 'last_error') {
        a = a ? a.message + (a.hint ? ' — hint: ' + a.hint : '') : ''; b = b ? b.message + (b.hint ? ' — hint: ' + b.hint : '') : '';
      }
      return el('tr', null, el('th', { scope: 'row', text: f }), el('td', { text: show(a) }), el('td', { text: show(b) }));
    });
    return table(['Field', 'This instance (' + l.local.instance + ')', 'Partner (' + l.partner.instance + ')'], rows);
  }

  // leasePanel shows the etcd lease of a link with automatic failover:
  // holder, epoch, time to expiry, etcd health, failsafe, why this
  // instance waits, and the last automatic failover.
  function leasePanel(a) {
    var rows = [];
    function row(k, v, cls) {
      var td = el('td', { text: v });
      if (cls) td.className = cls;
      rows.push(el('tr', null, el('th', { scope: 'row', text: k }), td));
    }
    row('Lease holder', a.holder ? a.holder + ' at epoch ' + a.epoch + (a.held ? ' (this instance)' : '') : 'none: no live lease (epoch ' + (a.epoch || '?') + ')', a.holder ? '' : 'bad');
    row('Lease expires in', a.holder ? (a.expires_in_seconds || 0).toFixed(1) + ' s (TTL ' + a.lease_ttl_seconds + ' s)' : '—');
    if (a.held) row('Writes stop in', a.fence_in_seconds ? a.fence_in_seconds.toFixed(1) + ' s unless renewed' : 'stopped: lease not confirmed', a.fence_in_seconds ? '' : 'bad');
    row('etcd', a.etcd_healthy ? 'reachable' : 'UNREACHABLE' + (a.etcd_error ? ': ' + a.etcd_error : ''), a.etcd_healthy ? 'ok' : 'bad');
    row('Failsafe', a.failsafe ? 'ENGAGED: etcd unreachable from both; the sync primary keeps writes on its secondary\'s word; nothing promotes by itself' : 'no', a.failsafe ? 'warn' : '');
    if (a.claiming) row('Claim', 'a claim is in flight');
    row('Waiting', a.waiting || '—', a.waiting ? 'warn' : '');
    var la = a.last_automatic;
    row('Last automatic failover', la ? 'epoch ' + la.epoch + ': ' + (la.reason || '') + (la.lost_transactions ? ' (' + la.lost_transactions + ' transactions lost)' : '') : 'none', '');
    row('Automatic failovers here', String(a.automatic_failovers || 0));
    return el('section', { class: 'panel', id: 'lease' }, el('h2', { text: 'Automatic failover (etcd lease)' }),
      table(['Lease', 'Value'], rows));
  }

  function actionPanel(l, out) {
    var panel = el('section', { class: 'panel', id: 'actions' }, el('h2', { text: 'Actions' }));
    var name = l.name;
    function run(btn, label, method, path, body, render) {
      btn.disabled = true;
      out.textContent = label + '…';
      api(method, path, body).then(function (res) {
        out.textContent = '';
        out.appendChild(el('p', { class: 'ok', text: label + ': done' }));
        if (render) render(res);
        else if (res && res.steps) {
          res.steps.forEach(function (s) {
            if (s.error) out.appendChild(errorBlock(s.name, s.error));
            else out.appendChild(el('div', { text: s.name + ': ' + s.status }));
          });
        }
      }).catch(function (e) {
        out.textContent = '';
        out.appendChild(errorBlock(label, e));
        btn.disabled = false;
      });
    }
    var split = !!l.split_brain || l.state === 'SPLIT_BRAIN';
    if (split) panel.appendChild(splitBrainPanel(l, run, out));
    if (can('links/setRole/action') && l.local.role === 'SECONDARY' && !split) {
      var pf = el('button', { type: 'button', id: 'planned-failover', text: 'Planned failover to this instance' });
      pf.addEventListener('click', function () { run(pf, 'Planned failover', 'POST', '/v1/links/' + encodeURIComponent(name) + '/failover', { type: 'planned' }); });
      panel.appendChild(el('p', null, pf));
      var loss = l.local.estimated_data_loss || {};
      var ack = el('input', { id: 'force-ack', type: 'text', autocomplete: 'off', 'aria-describedby': 'force-help' });
      var ff = el('button', { type: 'button', id: 'forced-failover', class: 'danger', text: 'Forced failover (data loss)' });
      ff.disabled = true;
      ack.addEventListener('input', function () { ff.disabled = ack.value !== name; });
      ff.addEventListener('click', function () { run(ff, 'Forced failover', 'POST', '/v1/links/' + encodeURIComponent(name) + '/failover', { type: 'forced', allow_data_loss: true }); });
      panel.appendChild(el('p', { id: 'force-help', class: 'warn', text: 'Estimated data loss if forced now: ' + (loss.transactions || 0) + ' transactions, ' + (loss.seconds || 0).toFixed(1) + ' s of commits. Type the link name "' + name + '" to enable.' }));
      panel.appendChild(el('p', null, el('label', { for: 'force-ack', text: 'Acknowledgement: ' }), ack, ' ', ff));
    }
    if (can('links/setRole/action') && !split) {
      panel.appendChild(el('p', null, el('a', { class: 'button', id: 'failover-wizard-link', href: '#failover/' + encodeURIComponent(name), text: 'Failover wizard…' })));
    }
    if (can('links/delete')) {
      var dl = el('button', { type: 'button', id: 'drop-link', class: 'danger', text: 'Drop link' });
      dl.addEventListener('click', function () {
        if (window.confirm('Drop link ' + name + '? The databases stay.')) run(dl, 'Drop link', 'DELETE', '/v1/links/' + encodeURIComponent(name));
      });
      panel.appendChild(el('p', null, dl));
    }
    if (panel.childNodes.length === 1) panel.appendChild(el('p', { text: 'Your permissions allow no actions on this link.' }));
    return panel;
  }

  // splitBrainPanel shows a split brain (two primaries after a forced
  // failover): the fork and what each side did after it, that is what the
  // side not chosen saves to a file before it follows; and, for a
  // principal allowed to, set-role (POST /v1/links/{name}/set-role, as
  // `sqlink link set-role`), confirmed by typing the chosen instance.
  function splitBrainChoices(l) {
    var sb = l.split_brain || {};
    return [
      { inst: l.local.instance, label: l.local.instance + ' (this instance)', other: l.partner.instance, n: sb.diverged_local, lose: sb.diverged_partner },
      { inst: l.partner.instance, label: l.partner.instance + ' (partner)', other: l.local.instance, n: sb.diverged_partner, lose: sb.diverged_local }];
  }
  // splitBrainInfo is the fork and, for each choice, what each side keeps
  // and saves; the link page refreshes it on every poll.
  function splitBrainInfo(l) {
    var sb = l.split_brain || {};
    var fork = sb.fork_lsn != null ? sb.fork_lsn : '?';
    function saves(loser, n) {
      return n ? loser + ' saves its ' + n + ' diverged transaction' + (n === 1 ? '' : 's') + ' (after LSN ' + fork +
        ') to a SQLite file with a listing, in its data directory under diverged/, then rewinds or reseeds to the fork and follows'
        : loser + ' has nothing after the fork to save; it follows';
    }
    return [el('p', { text: 'Fork LSN: ' + fork + '. After it, ' + l.local.instance + ' (this instance) committed ' + (sb.diverged_local || 0) +
        ' transactions and ' + l.partner.instance + ' (partner) ' + (sb.diverged_partner || 0) + '.' }),
      table(['If the primary is', 'It keeps', 'The other side'], splitBrainChoices(l).map(function (c) {
        return el('tr', null, el('th', { scope: 'row', text: c.label }),
          el('td', { text: 'its writes, with its ' + (c.n || 0) + ' transactions after the fork' }),
          el('td', { text: saves(c.other, c.lose || 0) + ' ' + c.inst + '.' }));
      }))];
  }
  function splitBrainPanel(l, run, out) {
    var name = l.name, choices = splitBrainChoices(l);
    var box = el('div', { id: 'split-brain', class: 'warnbox panel' }, el('h3', { text: 'Split brain' }),
      el('p', { class: 'bad', role: 'alert', text: 'Both instances act as primary: their histories forked. Writes are refused on the one at ' +
        'the older epoch until you designate the primary (set-role).' }),
      el('div', { id: 'split-brain-info' }, splitBrainInfo(l)));
    if (!can('links/setRole/action')) return box;
    var f = el('fieldset', { class: 'fields' }, el('legend', { text: 'Set role: the instance that becomes primary' }));
    var radios = choices.map(function (c, i) {
      var r = el('input', { type: 'radio', name: 'sr-primary', id: 'sr-primary-' + (i ? 'partner' : 'local'), value: c.inst });
      f.appendChild(el('div', { class: 'check' }, r, ' ', el('label', { for: r.id, text: c.label })));
      return r;
    });
    var ack = el('input', { id: 'setrole-ack', type: 'text', autocomplete: 'off', 'aria-describedby': 'setrole-help' });
    var b = el('button', { type: 'button', id: 'set-role', class: 'danger', text: 'Set role' });
    b.disabled = true;
    function chosen() { var r = radios.filter(function (x) { return x.checked; })[0]; return r ? r.value : ''; }
    function update() { b.disabled = !chosen() || ack.value !== chosen(); }
    radios.forEach(function (r) { r.addEventListener('change', update); });
    ack.addEventListener('input', update);
    b.addEventListener('click', function () {
      var primary = chosen(), c = choices.filter(function (x) { return x.inst === primary; })[0];
      run(b, 'Set role', 'POST', '/v1/links/' + encodeURIComponent(name) + '/set-role', { primary: primary }, function (res) {
        setRoleResult(res, primary, c.other, out);
      });
    });
    box.appendChild(f);
    box.appendChild(el('p', { id: 'setrole-help', class: 'warn', text: 'The side not chosen gives up its writes after the fork (saved to a file, not lost). Type the name of the instance that becomes primary to enable.' }));
    box.appendChild(el('p', null, el('label', { for: 'setrole-ack', text: 'Confirmation: ' }), ack, ' ', b));
    return box;
  }

  // setRoleResult lists what set-role did, as the CLI prints it.
  function setRoleResult(res, primary, loser, box) {
    var lk = res.link || {}, n = res.diverged_transactions || 0;
    var saved = res.diverged_file ? res.diverged_file + ' on ' + loser + ' (a SQLite database: sqlite3 ' + res.diverged_file + ')'
      : (n ? 'on ' + loser + ', not reported yet: its diverged_saved field below shows it once saved' : '- (nothing diverged on ' + loser + ')');
    var steps = [
      ['1. designate ' + primary + ' primary', 'done (epoch ' + (lk.epoch || '?') + ')'],
      ['2. ' + loser + ' saves its diverged transactions', n + ' after fork LSN ' + res.fork_lsn],
      ['3. ' + loser + ' rewinds or reseeds to the fork and follows ' + primary, res.method || '-']];
    box.appendChild(el('ol', { class: 'wiz-progress', id: 'setrole-steps' }, steps.map(function (s) { return el('li', { text: s[0] + ': ' + s[1] }); })));
    box.appendChild(table(['Result', ''], [
      ['Primary', primary], ['Fork LSN', res.fork_lsn], ['Diverged transactions', n + ' (on ' + loser + ')'], ['Saved to', saved],
      ['Listing', res.diverged_list || '-'], ['Method', res.method || '-'], ['State', lk.state || '']].map(function (r) {
      return el('tr', null, el('th', { scope: 'row', text: r[0] }), el('td', { text: show(r[1]) }));
    })));
  }

  // verifyPanel runs `sqlink link verify` from the console: it needs the
  // other instance's URL and token, sent to this instance for this one
  // verification (the field is cleared at once).
  function verifyPanel(name) {
    var box = el('section', { class: 'panel', id: 'verify' }, el('h2', { text: 'Verify' }),
      el('p', { text: 'Compare both copies page by page at the primary\'s current LSN (sqlink link verify). Sign in to the other instance for this check only.' }));
    if (!can('links/read')) return el('div');
    var f = el('form', { id: 'verify-form', class: 'fields' });
    function field(id, label, type, help) {
      var i = el('input', { id: id, type: type, autocomplete: 'off' });
      f.appendChild(el('label', { for: id, text: label }));
      f.appendChild(i);
      if (help) f.appendChild(el('small', { text: help }));
      return i;
    }
    var u = field('verify-url', 'Other instance\'s admin API URL', 'url', 'e.g. beta.example:7433 (HTTPS is assumed)');
    var t = field('verify-token', 'Its admin token', 'password', 'used for this check only, kept nowhere');
    var fp = field('verify-fingerprint', 'Its TLS fingerprint', 'text', 'SHA-256 of its self-signed certificate (sqlink init printed it)');
    var b = el('button', { type: 'submit', id: 'verify-button', text: 'Verify' });
    f.appendChild(el('p', null, b));
    var out = el('div', { id: 'verify-result', role: 'status' });
    f.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = { url: u.value, token: t.value, fingerprint: fp.value };
      t.value = '';
      b.disabled = true;
      out.textContent = 'Verifying…';
      api('POST', '/console/api/verify/' + encodeURIComponent(name), body).then(function (r) {
        out.textContent = '';
        if (r.equal) out.appendChild(el('p', { class: 'ok', text: 'Equal at LSN ' + r.lsn + ' (' + r.pages + ' pages).' }));
        else out.appendChild(el('p', { class: 'bad', role: 'alert', text: 'DIFFERENT at LSN ' + r.lsn + ': primary ' + r.primary_pages + ' pages, secondary ' +
          r.secondary_pages + ' pages, ' + r.differing_count + ' pages differ' + (r.differing_pages ? ' (first: ' + r.differing_pages.join(', ') + ')' : '') +
          '. Hint: reseed the secondary by dropping and re-creating the link.' }));
      }).catch(function (e) { out.textContent = ''; out.appendChild(errorBlock('verify', e)); })
        .then(function () { b.disabled = false; });
    });
    box.appendChild(f);
    box.appendChild(out);
    return box;
  }

  function pageLink(name) {
    var p = setPage('Link ' + name);
    var status = el('div', { id: 'link-status' });
    var chartBox = el('section', { class: 'panel' }, el('h2', { text: 'Secondary lag (solid) and commits per second (dashed), last hour' }), el('div', { id: 'chart' }));
    var fields = el('div', { id: 'link-fields' });
    var leaseSlot = el('div', { id: 'lease-slot' });
    p.appendChild(status);
    p.appendChild(leaseSlot);
    p.appendChild(chartBox);
    var actionsSlot = el('div');
    var out = el('div', { id: 'action-result', class: 'panel', role: 'status' });
    p.appendChild(actionsSlot);
    p.appendChild(out);
    p.appendChild(fields);
    p.appendChild(verifyPanel(name));
    var shownRole = null;
    function poll() {
      return Promise.all([api('GET', '/v1/links/' + encodeURIComponent(name)), api('GET', '/console/api/history/' + encodeURIComponent(name))])
        .then(function (res) {
          var l = res[0];
          status.textContent = '';
          var bad = linkProblem(l);
          status.appendChild(el('p', { class: bad ? 'bad' : 'ok', id: 'link-state' },
            'State: ' + l.state + ' — this instance is ' + l.local.role + ' (' + l.local.synchronization_state + ', ' +
            (bad ? 'PROBLEM: ' : '') + l.local.synchronization_health + '); partner ' + l.partner.instance +
            (l.local.connected ? ' is ' : ' was, when last heard from, ') + l.partner.role));
          [['this instance', l.local], ['partner ' + l.partner.instance, l.partner]].forEach(function (x) {
            var e = x[1].last_error;
            if (e) status.appendChild(el('p', { class: 'bad', role: 'alert' }, 'Last error on ' + x[0] + ': ' + e.message +
              (e.code ? ' (' + e.code + ')' : '') + (e.hint ? ' — hint: ' + e.hint : '')));
          });
          leaseSlot.textContent = '';
          if (l.auto_failover) leaseSlot.appendChild(leasePanel(l.auto_failover));
          var c = $('chart'); c.textContent = ''; c.appendChild(chart(res[1] || []));
          fields.textContent = ''; fields.appendChild(replicaTable(l));
          // The buttons follow the role (a failover swaps them).
          var shown = l.local.role + (l.split_brain || l.state === 'SPLIT_BRAIN' ? ' split brain' : '');
          if (shown !== shownRole) {
            shownRole = shown;
            actionsSlot.textContent = '';
            actionsSlot.appendChild(actionPanel(l, out));
          }
          var sbi = $('split-brain-info');
          if (sbi && l.split_brain) { sbi.textContent = ''; splitBrainInfo(l).forEach(function (n) { sbi.appendChild(n); }); }
        });
    }
    timer = setInterval(function () { poll().catch(function () {}); }, 2000);
    return poll();
  }

  function pageAudit() {
    var p = setPage('Audit log');
    var f = el('input', { id: 'audit-filter', type: 'search', placeholder: 'principal, action, target or result' });
    p.appendChild(el('p', null, el('label', { for: 'audit-filter', text: 'Filter: ' }), f));
    var box = el('div');
    p.appendChild(box);
    return api('GET', '/v1/audit?limit=500').then(function (es) {
      es = es || [];
      function draw() {
        var q = f.value.toLowerCase();
        var rows = es.filter(function (e) {
          return !q || [e.principal, e.action, e.target, e.result, e.detail].join(' ').toLowerCase().indexOf(q) >= 0;
        }).map(function (e) {
          return el('tr', e.result !== 'ok' ? { class: 'problem' } : null, el('td', { text: e.time }), el('td', { text: e.principal }),
            el('td', { text: e.action }), el('td', { text: e.target }),
            el('td', { class: e.result === 'ok' ? 'ok' : 'bad', text: e.result === 'ok' ? 'ok' : 'refused/failed: ' + e.result }),
            el('td', { text: e.detail || '' }));
        });
        box.textContent = '';
        box.appendChild(table(['Time', 'Principal', 'Action', 'Target', 'Result', 'Detail'], rows));
      }
      f.addEventListener('input', draw);
      draw();
    });
  }

  // ---------- shell ----------
  // wizard.js registers its pages here (hash #NAME or #NAME/ARG).
  var pages = {};
  window.sqlinkConsole = {
    api: api, el: el, $: $, can: can, errorBlock: errorBlock, setPage: setPage, table: table, kv: kv,
    fmtBytes: fmtBytes, show: show, pages: pages,
    me: function () { return me; },
    setTimer: function (t) { timer = t; }
  };
  function render() {
    if (timer) { clearInterval(timer); timer = null; }
    if (!me) return;
    var h = decodeURIComponent(location.hash.replace(/^#/, '')) || 'links';
    document.querySelectorAll('#nav a').forEach(function (a) {
      if (a.getAttribute('href') === '#' + h.split('/')[0]) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    var pr;
    if (h === 'instance') pr = pageInstance();
    else if (h === 'databases') pr = pageDatabases();
    else if (h === 'audit') pr = pageAudit();
    else if (h.indexOf('link/') === 0) pr = pageLink(h.slice(5));
    else if (pages[h.split('/')[0]]) pr = pages[h.split('/')[0]](h.split('/').slice(1).join('/'));
    else pr = pageLinks();
    pr.catch(function (e) { $('page').appendChild(errorBlock('', e)); });
  }
  function showSignIn() {
    me = null;
    if (timer) { clearInterval(timer); timer = null; }
    $('nav').hidden = true; $('signout').hidden = true; $('who').textContent = '';
    $('page').textContent = '';
    $('signin').hidden = false;
    $('token').focus();
  }
  function loadMe() {
    return api('GET', '/console/api/me').then(function (m) {
      me = m;
      $('signin').hidden = true; $('nav').hidden = false; $('signout').hidden = false;
      $('who').textContent = 'Signed in as ' + m.principal;
      render();
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    $('signin').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var t = $('token').value;
      $('token').value = '';
      $('signin-error').textContent = '';
      api('POST', '/console/api/signin', { token: t }).then(loadMe).catch(function (e) {
        $('signin-error').textContent = (e.message || 'sign-in failed') + (e.hint ? ' — ' + e.hint : '');
      });
    });
    $('signout').addEventListener('click', function () {
      api('POST', '/console/api/signout').then(showSignIn, showSignIn);
    });
    window.addEventListener('hashchange', render);
    loadMe().catch(showSignIn);
  });
})();
