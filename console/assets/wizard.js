// sqlink web console: the New Link wizard (#newlink) and the Failover
// wizard (#failover, #failover/LINK), with the reference's page names.
// DOM built with textContent only, like app.js.
'use strict';
(function () {
  var C = window.sqlinkConsole;
  var el = C.el, api = C.api;

  // wizard draws a wizard: the list of its pages (the current one marked),
  // the page's title and body, and Back / Next (Finish, Close) / Cancel.
  // A page is {title, render(body, w), next(w) -> promise, skip(), finish,
  // last, noBack, noNext, noCancel}; next rejecting keeps the page and
  // shows the error.
  function wizard(title, pages, opts) {
    var p = C.setPage(title);
    var hash = location.hash;
    var steps = el('ol', { class: 'wiz-steps', 'aria-label': 'Wizard pages' });
    var head = el('h2', { id: 'wiz-title', tabindex: '-1' });
    var body = el('div', { id: 'wiz-body' });
    var err = el('div', { id: 'wiz-error' });
    var back = el('button', { type: 'button', id: 'wiz-back', text: 'Back' });
    var next = el('button', { type: 'button', id: 'wiz-next', class: 'primary', text: 'Next' });
    var cancel = el('button', { type: 'button', id: 'wiz-cancel', text: 'Cancel' });
    p.appendChild(el('div', { class: 'wizard' }, steps,
      el('section', { class: 'panel wiz-page' }, head, body, err, el('div', { class: 'wiz-buttons' }, back, next, cancel))));
    var cur = 0;
    var w = {
      next: next, body: body,
      alive: function () { return location.hash === hash; },
      go: function (i) { show(i); },
      forward: function () { show(after(cur)); },
      error: function (step, e) { err.textContent = ''; err.appendChild(C.errorBlock(step, e)); }
    };
    function visible(i) { return !(pages[i].skip && pages[i].skip()); }
    function after(i) { i++; while (i < pages.length - 1 && !visible(i)) i++; return i; }
    function before(i) { i--; while (i > 0 && !visible(i)) i--; return i; }
    function show(i) {
      cur = i;
      var pg = pages[i];
      err.textContent = '';
      body.textContent = '';
      head.textContent = pg.title;
      steps.textContent = '';
      pages.forEach(function (q, j) {
        if (!visible(j)) return;
        var li = el('li', { text: q.title });
        if (j === i) li.setAttribute('aria-current', 'step');
        steps.appendChild(li);
      });
      back.hidden = i === 0 || !!pg.noBack;
      next.hidden = !!pg.noNext;
      cancel.hidden = !!pg.last || !!pg.noCancel;
      next.textContent = pg.finish ? 'Finish' : (pg.last ? 'Close' : 'Next');
      next.disabled = false;
      document.title = title + ': ' + pg.title + ' — sqlink console';
      head.focus();
      Promise.resolve(pg.render ? pg.render(body, w) : null).catch(function (e) { w.error(pg.title, e); });
    }
    next.addEventListener('click', function () {
      var pg = pages[cur];
      err.textContent = '';
      next.disabled = true;
      Promise.resolve(pg.next ? pg.next(w) : null).then(function () {
        if (pg.last) { location.hash = opts.closeHash ? opts.closeHash() : '#links'; return; }
        show(after(cur));
      }, function (e) { w.error(pg.title, e); next.disabled = false; });
    });
    back.addEventListener('click', function () { show(before(cur)); });
    // Enter in a text field means Next, as in a form.
    body.addEventListener('keydown', function (ev) {
      var t = ev.target;
      if (ev.key === 'Enter' && t.tagName === 'INPUT' && t.type !== 'checkbox' && t.type !== 'radio' && !next.hidden && !next.disabled) {
        ev.preventDefault();
        next.click();
      }
    });
    cancel.addEventListener('click', function () {
      if (opts.onCancel) opts.onCancel();
      location.hash = opts.cancelHash || '#links';
    });
    show(0);
    return w;
  }

  function para(text) { return el('p', { text: text }); }
  function fail(message, hint) { return Promise.reject({ code: 'EINVALID', message: message, hint: hint }); }

  // field appends a labelled input to box and returns it.
  function field(box, id, label, attrs, help) {
    var i = el('input', attrs || {});
    i.id = id;
    if (!attrs || !attrs.type) i.type = 'text';
    i.setAttribute('autocomplete', 'off');
    if (i.type === 'checkbox') {
      box.appendChild(el('div', { class: 'check' }, i, ' ', el('label', { for: id, text: label })));
    } else {
      box.appendChild(el('label', { for: id, text: label }));
      box.appendChild(i);
    }
    if (help) {
      i.setAttribute('aria-describedby', id + '-help');
      box.appendChild(el('small', { id: id + '-help', text: help }));
    }
    return i;
  }

  var marks = { pass: 'ok', warning: 'warn', fail: 'FAIL', skipped: 'skipped' };
  function checksTable(checks) {
    return C.table(['Result', 'Check', 'Instance', 'Message', 'Try'], (checks || []).map(function (c) {
      var cls = c.status === 'pass' ? 'ok' : (c.status === 'warning' ? 'warn' : 'bad');
      return el('tr', c.status === 'fail' ? { class: 'problem' } : null, el('td', { class: cls, text: marks[c.status] || c.status }),
        el('td', { text: c.name }), el('td', { text: c.instance || '' }), el('td', { text: c.message }),
        el('td', { text: c.status !== 'pass' ? (c.hint || '') : '' }));
    }));
  }

  // scriptBlock shows a Script with its Copy and Download buttons.
  function scriptBlock(res) {
    var pre = el('pre', { id: 'wiz-script', class: 'script', tabindex: '0', text: res.script });
    var copy = el('button', { type: 'button', id: 'wiz-copy', text: 'Copy' });
    var note = el('span', { role: 'status' });
    copy.addEventListener('click', function () {
      var done = function () { note.textContent = ' Copied.'; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(res.script).then(done, function () { selectText(pre); note.textContent = ' Selected: press Ctrl+C.'; });
      } else { selectText(pre); note.textContent = ' Selected: press Ctrl+C.'; }
    });
    var dl = el('a', { class: 'button', id: 'wiz-download', download: res.file, text: 'Download' });
    dl.href = URL.createObjectURL(new Blob([res.script], { type: 'text/x-shellscript' }));
    return el('section', { class: 'script-box' }, el('h3', { text: 'Script' }),
      para('The same commands from a terminal (tokens come from the environment, never this file):'),
      el('p', null, copy, ' ', dl, note), pre);
  }
  function selectText(node) {
    var r = document.createRange();
    r.selectNodeContents(node);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  }

  var stepMarks = { running: '[..]', ok: '[ok]', failed: '[FAIL]', skipped: '[--]', done: '[ok]', paused: '[paused]' };
  function stepList(id, items) {
    return el('ol', { id: id, class: 'wiz-progress' }, items.map(function (s) {
      return el('li', { class: s.status === 'failed' ? 'bad' : (s.status === 'ok' || s.status === 'done' ? 'ok' : ''), 'data-status': s.status },
        (stepMarks[s.status] || '[' + s.status + ']') + ' ' + s.text);
    }));
  }
  function seedText(s) {
    var t = s.state + ' ' + C.fmtBytes(s.bytes_done);
    if (s.bytes_total > 0) t += ' of ' + C.fmtBytes(s.bytes_total) + ' (' + Math.round(100 * s.bytes_done / s.bytes_total) + '%)';
    return t;
  }

  // ---------- New Link wizard ----------
  function newLink() {
    var st = {
      opts: { name: '', databases: [], mode: 'async', two_way: false, seed_from_backup: false, primary_endpoint: '', secondary_endpoint: '', troubleshoot: true },
      req: null, op: null, val: null, sURL: '', sFP: '', progress: null
    };
    function dropOp() {
      if (st.op) { api('DELETE', '/console/api/newlink/' + st.op.id).catch(function () {}); st.op = null; }
    }
    function opPath(a) { return '/console/api/newlink/' + st.op.id + (a ? '/' + a : ''); }
    var pages = [
      { title: 'Introduction', render: function (b) {
        b.appendChild(para('This wizard creates a link: it replicates a database of this (primary) instance to a read-only copy on a secondary instance.'));
        b.appendChild(para('You will need:'));
        b.appendChild(el('ul', null, el('li', { text: 'a full backup of each database to link (sqlink backup DB --to FILE),' }),
          el('li', { text: 'the secondary\'s admin API URL, an admin token of it and its TLS fingerprint (its token is sent to this instance for this operation only and kept nowhere),' }),
          el('li', { text: 'both replication endpoints reachable from the other instance.' })));
        b.appendChild(para('Nothing changes until you select Finish on the Summary page.'));
      } },
      { title: 'Link options', render: function (b) {
        var f = el('div', { class: 'fields' });
        var n = field(f, 'nl-name', 'Link name', { value: st.opts.name }, 'with several databases each link is NAME_DATABASE');
        var tw = field(f, 'nl-two-way', 'Two-way disaster recovery (allow fail back after a failover)', { type: 'checkbox' });
        tw.checked = st.opts.two_way;
        var tr = field(f, 'nl-troubleshoot', 'Connectivity troubleshooting: probe the endpoints both ways during validation', { type: 'checkbox' });
        tr.checked = st.opts.troubleshoot;
        b.appendChild(f);
        n.focus();
      }, next: function () {
        st.opts.name = document.getElementById('nl-name').value.trim();
        st.opts.two_way = document.getElementById('nl-two-way').checked;
        st.opts.troubleshoot = document.getElementById('nl-troubleshoot').checked;
        if (!st.opts.name) return fail('no link name given', 'type a name for the link');
      } },
      { title: 'Requirements', render: function (b, w) {
        b.appendChild(para('The primary must meet these requirements before a database can be linked.'));
        var box = el('div', { id: 'nl-req', role: 'status' });
        var rerun = el('button', { type: 'button', id: 'nl-rerun-req', text: 'Re-run validation' });
        b.appendChild(box);
        b.appendChild(el('p', null, rerun));
        function runReq() {
          box.textContent = 'Validating requirements…';
          rerun.disabled = true;
          return api('POST', '/console/api/newlink/requirements', {}).then(function (r) {
            st.req = r;
            box.textContent = '';
            box.appendChild(el('p', { class: r.ok ? 'ok' : 'bad' }, r.ok ? 'Requirements met: ' + r.eligible.length + ' database(s) can be linked.'
              : 'Requirements not met: resolve them, then re-run validation.'));
            box.appendChild(checksTable(r.checks));
          }).catch(function (e) { box.textContent = ''; w.error('Requirements', e); }).then(function () { rerun.disabled = false; });
        }
        rerun.addEventListener('click', runReq);
        return runReq();
      }, next: function () {
        if (!st.req || !st.req.ok) return fail('requirements not met', 'resolve the requirements that are not met, then re-run validation');
      } },
      { title: 'Select databases', render: function (b) {
        b.appendChild(para('Select the databases to link; each gets a link of its own.'));
        var f = el('fieldset', { class: 'fields' }, el('legend', { text: 'Databases' }));
        st.req.eligible.forEach(function (d) {
          var c = field(f, 'nl-db-' + d.name, d.name + ' (' + C.fmtBytes(d.size_bytes) + ')', { type: 'checkbox', 'data-db': d.name });
          c.checked = st.opts.databases.indexOf(d.name) >= 0 || st.req.eligible.length === 1;
        });
        b.appendChild(f);
        Object.keys(st.req.not_eligible || {}).forEach(function (n) {
          b.appendChild(el('p', { class: 'warn', text: 'Cannot link ' + n + ': ' + st.req.not_eligible[n] }));
        });
      }, next: function () {
        st.opts.databases = [];
        document.querySelectorAll('#wiz-body input[data-db]').forEach(function (c) { if (c.checked) st.opts.databases.push(c.getAttribute('data-db')); });
        if (!st.opts.databases.length) return fail('no database selected', 'select a database');
      } },
      { title: 'Secondary replica', render: function (b) {
        b.appendChild(para('Sign in to the secondary instance, then review the link\'s settings. Its URL and token go to this instance for this operation only; the token field is cleared once sent.'));
        var f = el('div', { class: 'fields' });
        field(f, 'nl-surl', 'Secondary admin API URL', { type: 'url', value: st.sURL }, 'e.g. beta.example:7433 (HTTPS is assumed)');
        field(f, 'nl-stoken', 'Secondary admin token', { type: 'password' }, st.op ? 'signed in already: leave empty to keep that sign-in' : 'an admin token of the secondary');
        field(f, 'nl-sfp', 'Secondary TLS fingerprint', { value: st.sFP }, 'SHA-256 of its self-signed certificate (sqlink init printed it)');
        f.appendChild(el('label', { for: 'nl-mode', text: 'Mode' }));
        var mode = el('select', { id: 'nl-mode', 'aria-describedby': 'nl-mode-help' }, el('option', { value: 'async', text: 'async' }), el('option', { value: 'sync', text: 'sync' }));
        mode.value = st.opts.mode;
        f.appendChild(mode);
        f.appendChild(el('small', { id: 'nl-mode-help', text: 'async: commits do not wait; sync: commits wait for the secondary' }));
        field(f, 'nl-seed', 'Seed from a backup restored RESTORING on the secondary', { type: 'checkbox' }).checked = st.opts.seed_from_backup;
        field(f, 'nl-pend', 'Primary endpoint', { value: st.opts.primary_endpoint }, 'HOST:PORT the secondary dials (empty: what the primary reports)');
        field(f, 'nl-send', 'Secondary endpoint', { value: st.opts.secondary_endpoint }, 'HOST:PORT the primary dials (empty: what the secondary reports)');
        b.appendChild(f);
        b.appendChild(el('p', { id: 'nl-signed-in', class: 'ok', role: 'status', text: st.op ? 'Login successful: secondary ' + st.op.secondary.name + ' (version ' + st.op.secondary.version + ').' : '' }));
      }, next: function () {
        var g = function (id) { return document.getElementById(id); };
        var u = g('nl-surl').value.trim(), tok = g('nl-stoken').value, fp = g('nl-sfp').value.trim();
        g('nl-stoken').value = '';
        st.opts.mode = g('nl-mode').value;
        st.opts.seed_from_backup = g('nl-seed').checked;
        st.opts.primary_endpoint = g('nl-pend').value.trim();
        st.opts.secondary_endpoint = g('nl-send').value.trim();
        if (st.op && !tok && u === st.sURL && fp === st.sFP) return;
        if (!u) return fail('no secondary URL given', 'type the secondary\'s admin API URL');
        if (!tok) return fail('no admin token given for the secondary', 'type an admin token of the secondary');
        dropOp();
        st.sURL = u; st.sFP = fp;
        return api('POST', '/console/api/newlink/signin', { url: u, token: tok, fingerprint: fp }).then(function (op) { st.op = op; });
      } },
      { title: 'Validation', render: function (b, w) {
        var box = el('div', { id: 'nl-validation', role: 'status' });
        var rerun = el('button', { type: 'button', id: 'nl-revalidate', text: 'Re-run validation' });
        b.appendChild(box);
        b.appendChild(el('p', null, rerun));
        function run() {
          st.val = null;
          box.textContent = 'Validating both instances…';
          rerun.disabled = true;
          return api('POST', opPath('validate'), st.opts).then(function (v) {
            st.val = v;
            box.textContent = '';
            var failed = v.checks.filter(function (c) { return c.status === 'fail'; }).length;
            box.appendChild(el('p', { id: 'nl-validation-result', class: v.ok ? 'ok' : 'bad' },
              v.ok ? 'All validations passed.' : 'Validation failed (' + failed + ' of ' + v.checks.length + ' checks): resolve the failed checks, then re-run validation.'));
            box.appendChild(checksTable(v.checks));
            if (v.directions.length) {
              box.appendChild(el('h3', { text: 'Connectivity troubleshooting' }));
              box.appendChild(C.table(['From', 'To', 'Address', 'Result', 'Round trip'], v.directions.map(function (d) {
                var ok = !d.failed;
                return el('tr', ok ? null : { class: 'problem' }, el('td', { text: d.from }), el('td', { text: d.to }), el('td', { text: d.address }),
                  el('td', { class: ok ? 'ok' : 'bad', text: ok ? 'ok' : 'FAILED at ' + d.failed + ': ' + d.message + (d.hint ? ' — try: ' + d.hint : '') }),
                  el('td', { text: d.rtt_ms.toFixed(1) + ' ms' }));
              })));
            }
          }).catch(function (e) { box.textContent = ''; w.error('Validation', e); }).then(function () { rerun.disabled = false; });
        }
        rerun.addEventListener('click', run);
        return run();
      }, next: function () {
        if (!st.val || !st.val.ok) return fail('validation did not pass', 'resolve the failed checks, then re-run validation');
      } },
      { title: 'Summary', finish: true, render: function (b) {
        var o = st.opts;
        b.appendChild(para('Select Finish to do the following:'));
        var rows = [['Primary', st.op.primary.name + ' (this instance)'], ['Secondary', st.op.secondary.name + ' (' + st.sURL + ')'],
          ['Mode', o.mode + ', ' + (o.two_way ? 'two-way (fail back allowed)' : 'one-way')]];
        var names = o.databases.length === 1 ? [o.name] : o.databases.map(function (d) { return o.name + '_' + d; });
        names.forEach(function (n, i) {
          rows.push(['Link ' + n, 'database ' + o.databases[i] + ', ' + (o.seed_from_backup ? 'seed from the backup restored on the secondary' : 'seed a full copy from the primary')]);
        });
        b.appendChild(C.table(['', ''], rows.map(function (r) { return el('tr', null, el('th', { scope: 'row', text: r[0] }), el('td', { text: r[1] })); })));
        b.appendChild(el('h3', { text: 'Actions' }));
        b.appendChild(el('ol', null, ['Sign in to both instances', 'Validate', 'Exchange endpoint certificates',
          'Create the link on the secondary, then on the primary', 'Seed the secondary and follow its progress'].map(function (t) { return el('li', { text: t }); })));
        return api('POST', opPath('script'), o).then(function (res) { b.appendChild(scriptBlock(res)); });
      }, next: function () {
        return api('POST', opPath('execute'), st.opts).then(function (p) { st.progress = p; });
      } },
      { title: 'Executing', noBack: true, noNext: true, noCancel: true, render: function (b, w) {
        var box = el('div', { id: 'nl-executing', role: 'status', 'aria-live': 'polite' });
        b.appendChild(box);
        function draw(p) {
          box.textContent = '';
          var items = p.steps.map(function (s) { return { status: s.status, text: s.step + '. ' + s.title + (s.detail ? ': ' + s.detail : '') }; });
          Object.keys(p.seeding || {}).forEach(function (n) {
            var s = p.seeding[n];
            items.push({ status: s.state === 'COMPLETED' ? 'ok' : 'running', text: '5. Seed ' + n + ': ' + seedText(s) });
          });
          box.appendChild(stepList('nl-steps', items));
          if (p.running) box.appendChild(para('Working…'));
        }
        function poll() {
          if (!w.alive()) return;
          api('GET', opPath()).then(function (p) {
            st.progress = p;
            draw(p);
            if (p.done) w.forward(); else setTimeout(poll, 500);
          }).catch(function (e) { w.error('Executing', e); setTimeout(poll, 2000); });
        }
        draw(st.progress);
        poll();
      } },
      { title: 'Results', last: true, noBack: true, render: function (b) {
        var p = st.progress;
        var items = p.steps.map(function (s) { return { status: s.status, text: s.title + (s.detail ? ': ' + s.detail : '') }; });
        Object.keys(p.seeding || {}).forEach(function (n) { items.push({ status: 'ok', text: 'Seed ' + n + ': ' + seedText(p.seeding[n]) }); });
        b.appendChild(stepList('nl-result-steps', items));
        if (p.error) {
          var failed = p.steps.filter(function (s) { return s.status === 'failed' && s.name !== 'undo'; })[0];
          b.appendChild(el('p', { id: 'nl-result', class: 'bad', text: 'The link was not created.' }));
          b.appendChild(C.errorBlock(failed ? failed.step + '. ' + failed.title : '', p.error));
          if (!p.links.length) return;
        } else {
          b.appendChild(el('p', { id: 'nl-result', class: 'ok', text: 'Link ' + p.links.map(function (l) { return l.name; }).join(', ') + ' created.' }));
        }
        b.appendChild(el('h3', { text: 'Link status' }));
        b.appendChild(C.table(['Link', 'On', 'Role', 'State', 'Synchronization', 'Database'], p.final.map(function (l) {
          return el('tr', null, el('td', null, el('a', { href: '#link/' + encodeURIComponent(l.name), text: l.name })), el('td', { text: l.local.instance }),
            el('td', { text: l.local.role }), el('td', { text: l.state }), el('td', { text: l.local.synchronization_state }), el('td', { text: l.local.database_state }));
        })));
        b.appendChild(el('h3', { text: 'What to do next' }));
        b.appendChild(el('ul', null, p.links.map(function (l) {
          return el('li', null, 'Follow the link on its page: ', el('a', { href: '#link/' + encodeURIComponent(l.name), text: l.name }),
            '; fail over later with the Failover wizard.');
        })));
      } }
    ];
    var first = null;
    wizard('New Link wizard', pages, {
      onCancel: dropOp,
      closeHash: function () {
        var p = st.progress;
        dropOp();
        if (p && p.links.length) first = p.links[0].name;
        return first ? '#link/' + encodeURIComponent(first) : '#links';
      }
    });
    return Promise.resolve();
  }

  // ---------- Failover wizard ----------
  var acceptDataLoss = 'I accept data loss';

  function plannedPossible(l) {
    if (!l.local.connected) return 'the replicas are not connected';
    if (l.local.synchronization_state !== 'SYNCHRONIZED' && l.state !== 'SYNCHRONIZED') {
      return 'the link is ' + l.local.synchronization_state + ', not SYNCHRONIZED (stop the workload and let the secondary catch up)';
    }
    return '';
  }

  function failover(named) {
    var st = { name: named ? decodeURIComponent(named) : '', links: [], link: null, type: '', drop: false, result: null, error: null };
    function linkPath(n) { return '/v1/links/' + encodeURIComponent(n || st.name); }
    function request() {
      return { type: st.type, drop_link: st.drop, allow_data_loss: st.type === 'forced' };
    }
    var pages = [
      { title: 'Introduction', render: function (b) {
        b.appendChild(para('This wizard fails a link over: the secondary replica becomes the primary.'));
        b.appendChild(para('Before a planned failover, stop the workload on the primary so that the secondary catches up: a planned failover loses no data. ' +
          'A forced failover runs on the secondary when the primary is lost, and may lose the transactions the secondary had not received.'));
        b.appendChild(para('Nothing changes until you select Finish on the Summary page.'));
      } },
      { title: 'Select link', skip: function () { return !!named; }, render: function (b) {
        return api('GET', '/v1/links').then(function (ls) {
          st.links = ls || [];
          if (!st.links.length) { b.appendChild(para('This instance has no link.')); return; }
          b.appendChild(el('label', { for: 'fo-link', text: 'Link' }));
          var s = el('select', { id: 'fo-link' });
          st.links.forEach(function (l) { s.appendChild(el('option', { value: l.name, text: l.name + ' (database ' + l.database + ', ' + l.state + ', this instance ' + l.local.role + ')' })); });
          if (st.name) s.value = st.name;
          b.appendChild(s);
        });
      }, next: function () {
        var s = document.getElementById('fo-link');
        if (!s) return fail('no link to fail over', 'create one first');
        st.name = s.value;
      } },
      { title: 'Choose failover type', render: function (b, w) {
        return api('GET', linkPath()).then(function (l) {
          st.link = l;
          b.appendChild(para('Link ' + l.name + ': database ' + l.database + ', ' + l.mode + ', ' + (l.two_way ? 'two-way' : 'one-way') + ', state ' + l.state + ' (as ' + l.local.instance + ' sees it)'));
          b.appendChild(C.table(['Replica', 'Role', 'Synchronization', 'Connected', 'Database'], [l.local, l.partner].map(function (r) {
            return el('tr', null, el('td', { text: r.instance }), el('td', { text: r.role }), el('td', { text: r.synchronization_state }),
              el('td', { text: String(!!r.connected) }), el('td', { text: r.database_state }));
          })));
          var why = plannedPossible(l), canForce = l.local.role === 'SECONDARY';
          var f = el('fieldset', { class: 'fields' }, el('legend', { text: 'Failover type' }));
          var pl = el('input', { type: 'radio', name: 'fo-type', id: 'fo-type-planned', value: 'planned' });
          var fo = el('input', { type: 'radio', name: 'fo-type', id: 'fo-type-forced', value: 'forced' });
          pl.disabled = !!why; fo.disabled = !canForce;
          f.appendChild(el('div', { class: 'check' }, pl, ' ', el('label', { for: 'fo-type-planned', text: 'Planned failover: ' + (why ? 'not possible now, ' + why : 'no data loss') })));
          var loss = l.local.estimated_data_loss || {};
          f.appendChild(el('div', { class: 'check' }, fo, ' ', el('label', { for: 'fo-type-forced', text: 'Forced failover: ' +
            (canForce ? 'on this secondary, estimated loss now ' + (loss.transactions || 0) + ' transactions (' + (loss.seconds || 0).toFixed(1) + ' s)' : 'only on the secondary (open ' + l.partner.instance + '\'s console)') })));
          b.appendChild(f);
          var warn = el('div', { id: 'fo-forced', class: 'panel warnbox' });
          var ack = el('input', { id: 'fo-ack', type: 'text', autocomplete: 'off', 'aria-describedby': 'fo-loss' });
          warn.appendChild(el('p', { id: 'fo-loss', class: 'warn', text: 'A forced failover makes ' + l.local.instance + ' the primary at once. It may lose the transactions it had not received: an estimated ' +
            (loss.transactions || 0) + ' transactions (' + (loss.seconds || 0).toFixed(1) + ' s) now. When the old primary returns, the link shows SPLIT_BRAIN until set-role designates the primary. ' +
            'To proceed, type the link\'s name (' + l.name + ') or "' + acceptDataLoss + '".' }));
          warn.appendChild(el('p', null, el('label', { for: 'fo-ack', text: 'Acknowledgement: ' }), ack));
          b.appendChild(warn);
          if (!why && (st.type !== 'forced' || !canForce)) st.type = 'planned';
          else if (canForce && (why || st.type === 'forced')) st.type = 'forced';
          else st.type = '';
          pl.checked = st.type === 'planned'; fo.checked = st.type === 'forced';
          function update() {
            st.type = pl.checked ? 'planned' : (fo.checked ? 'forced' : '');
            warn.hidden = st.type !== 'forced';
            var ok = ack.value === l.name || ack.value.toLowerCase() === acceptDataLoss.toLowerCase();
            // A forced failover stays disabled until the loss is acknowledged.
            w.next.disabled = !st.type || (st.type === 'forced' && !ok);
          }
          [pl, fo].forEach(function (x) { x.addEventListener('change', update); });
          ack.addEventListener('input', update);
          update();
          if (!st.type) b.appendChild(el('p', { class: 'bad', role: 'alert', text: 'No failover type is possible from ' + l.local.instance + ' now: ' + why + '.' }));
        });
      }, next: function () {
        if (!st.type) return fail('no failover type is possible now', 'wait until the link is SYNCHRONIZED, or open the secondary\'s console for a forced failover');
      } },
      { title: 'Sign in', render: function (b) {
        var l = st.link;
        b.appendChild(para('Optionally sign in to the other replica, ' + l.partner.instance + ', to check it before failing over. Its URL and token go to this instance for this check only; the token field is cleared once sent. ' +
          'Leave the fields empty to skip (a forced failover does not need the other replica).'));
        var f = el('div', { class: 'fields' });
        field(f, 'fo-purl', 'Other replica\'s admin API URL', { type: 'url', value: st.pURL || '' }, 'e.g. beta.example:7433 (HTTPS is assumed)');
        field(f, 'fo-ptoken', 'Its admin token', { type: 'password' }, 'an admin token of ' + l.partner.instance);
        field(f, 'fo-pfp', 'Its TLS fingerprint', { value: st.pFP || '' }, 'SHA-256 of its self-signed certificate');
        b.appendChild(f);
      }, next: function () {
        var g = function (id) { return document.getElementById(id); };
        var u = g('fo-purl').value.trim(), tok = g('fo-ptoken').value, fp = g('fo-pfp').value.trim();
        g('fo-ptoken').value = '';
        st.pURL = u; st.pFP = fp; st.partner = null;
        if (!u) return;
        if (!tok) return fail('no admin token given for the other replica', 'type an admin token of ' + st.link.partner.instance + ', or clear the URL to skip');
        return api('POST', '/console/api/partner/' + encodeURIComponent(st.name), { url: u, token: tok, fingerprint: fp }).then(function (ps) { st.partner = ps; });
      } },
      { title: 'Post-failover options', render: function (b) {
        var l = st.link;
        if (!l.two_way) {
          st.drop = true;
          b.appendChild(para('This is a one-way link: a failover drops it, and both databases become independent and writable.'));
          return;
        }
        b.appendChild(para('Keep the link to replicate the other way (fail back later), or drop it: both databases then become independent and writable.'));
        var f = el('fieldset', { class: 'fields' }, el('legend', { text: 'After the failover' }));
        var k = el('input', { type: 'radio', name: 'fo-after', id: 'fo-keep' }), d = el('input', { type: 'radio', name: 'fo-after', id: 'fo-drop' });
        k.checked = !st.drop; d.checked = st.drop;
        f.appendChild(el('div', { class: 'check' }, k, ' ', el('label', { for: 'fo-keep', text: 'Keep the link (it replicates the other way)' })));
        f.appendChild(el('div', { class: 'check' }, d, ' ', el('label', { for: 'fo-drop', text: 'Drop the link' })));
        b.appendChild(f);
      }, next: function () {
        if (st.link.two_way) st.drop = document.getElementById('fo-drop').checked;
      } },
      { title: 'Summary', finish: true, render: function (b) {
        return api('GET', linkPath()).then(function (l) {
          st.link = l;
          var newPrimary = l.local.role === 'PRIMARY' ? l.partner.instance : l.local.instance;
          b.appendChild(para('Select Finish to do the following:'));
          var items = [st.type + ' failover of link ' + st.name + ' on ' + l.local.instance, 'New primary: ' + newPrimary,
            st.drop ? 'Then drop the link: both databases become independent and writable.' : 'Keep the link: it replicates the other way.'];
          if (st.partner) items.push('Other replica checked: ' + st.partner.local.instance + ' is the ' + st.partner.local.role + ' of link ' + st.name + ' (' + st.partner.local.synchronization_state + ').');
          if (st.type === 'forced') items.push('Data loss accepted (estimated ' + ((l.local.estimated_data_loss || {}).transactions || 0) + ' transactions).');
          b.appendChild(el('ul', { id: 'fo-summary' }, items.map(function (t) { return el('li', { text: t }); })));
          return api('POST', '/console/api/script/failover', { link: st.name, type: st.type, drop_link: st.drop });
        }).then(function (res) { b.appendChild(scriptBlock(res)); });
      } },
      { title: 'Executing', noBack: true, noNext: true, noCancel: true, render: function (b, w) {
        var box = el('div', { id: 'fo-executing', role: 'status', 'aria-live': 'polite' });
        b.appendChild(para('Failing over link ' + st.name + ' (' + st.type + ')…'));
        b.appendChild(box);
        var finished = false;
        function watch() {
          if (finished || !w.alive()) return;
          api('GET', linkPath()).then(function (l) {
            if (finished) return;
            box.textContent = 'Now: this instance (' + l.local.instance + ') is ' + l.local.role + ', ' + l.local.synchronization_state +
              (l.local.log_send_queue_bytes ? ', send queue ' + C.fmtBytes(l.local.log_send_queue_bytes) : '') + '; link ' + l.state + '.';
          }).catch(function () {}).then(function () { setTimeout(watch, 500); });
        }
        watch();
        return runFailover(request()).then(function () { finished = true; w.forward(); });
      } },
      { title: 'Results', last: true, noBack: true, render: function (b) { drawResult(b); } }
    ];

    function runFailover(req) {
      st.result = null; st.error = null;
      return api('POST', linkPath() + '/failover', req).then(function (r) { st.result = r; }, function (e) { st.error = e; });
    }

    function drawResult(b) {
      var r = st.result;
      b.textContent = '';
      if (st.error) {
        b.appendChild(el('p', { id: 'fo-result', class: 'bad', text: 'The failover of link ' + st.name + ' did not complete.' }));
        b.appendChild(C.errorBlock(st.type + ' failover', st.error));
        return;
      }
      b.appendChild(stepList('fo-steps', r.steps.map(function (s) {
        return { status: s.status, text: s.name + ' (' + s.duration_seconds.toFixed(3) + ' s)' };
      })));
      var failed = r.steps.filter(function (s) { return s.error; })[0];
      if (failed) b.appendChild(C.errorBlock(failed.name, failed.error));
      if (r.paused) {
        b.appendChild(el('p', { id: 'fo-result', class: 'warn', text: 'The failover of link ' + st.name + ' paused: ' + r.paused + '.' }));
        var resume = el('button', { type: 'button', id: 'fo-resume', text: 'Resume' });
        var abort = el('button', { type: 'button', id: 'fo-abort', class: 'danger', text: 'Abort (back to the old roles)' });
        [[resume, { resume: true }], [abort, { abort: true }]].forEach(function (x) {
          x[0].addEventListener('click', function () {
            resume.disabled = abort.disabled = true;
            runFailover(Object.assign({ type: st.type, drop_link: st.drop }, x[1])).then(function () { drawResult(b); });
          });
        });
        b.appendChild(el('p', null, resume, ' ', abort));
        return;
      }
      b.appendChild(el('p', { id: 'fo-result', class: 'ok', text: 'Link ' + st.name + ' failed over. New primary: ' + r.new_primary + ', epoch ' + r.epoch +
        ', in ' + r.duration_seconds.toFixed(3) + ' s.' }));
      if (st.type === 'forced') {
        b.appendChild(para('Estimated loss before: ' + (r.estimated_loss.transactions || 0) + ' transactions; recorded loss: ' + (r.lost.transactions || 0) + ' transactions.'));
      }
      b.appendChild(para(st.drop ? 'Both databases are now independent and writable.' : 'The link now replicates the other way.'));
      b.appendChild(para('Repoint your applications at the new primary, or use a connection string naming both hosts with target_session_attrs=read-write.'));
    }

    wizard('Failover wizard', pages, {
      cancelHash: named ? '#link/' + named : '#links',
      closeHash: function () { return st.drop && !st.error ? '#links' : '#link/' + encodeURIComponent(st.name); }
    });
    return Promise.resolve();
  }

  C.pages.newlink = newLink;
  C.pages.failover = failover;
})();
