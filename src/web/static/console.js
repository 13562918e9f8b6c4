// The Lares console's only script: streams chat replies (Server-Sent Events over fetch) and
// refreshes the live parts of a page (pending approvals, messages) when the server says
// something happened. Everything works without it, by plain form posts.
/* global document, window, EventSource, URLSearchParams, TextDecoder */
'use strict';
(function () {
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  if (!csrfMeta) return;
  var csrf = csrfMeta.getAttribute('content');

  function refresh(selector) {
    var el = document.querySelector(selector);
    if (!el) return Promise.resolve();
    return fetch(el.getAttribute('data-live'), { headers: { accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        if (el.id === 'pending') { el.outerHTML = html; } else { el.innerHTML = html; }
      });
  }

  function scrollLog() {
    var log = document.getElementById('log');
    if (log) log.scrollTop = log.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
  }

  // live updates: approvals asked for or decided, jobs due
  if (window.EventSource) {
    var log = document.getElementById('log');
    var newest = log ? log.getAttribute('data-newest') : null;
    var events = new EventSource(newest === null ? '/events' : '/events?after=' + encodeURIComponent(newest));
    var update = function () {
      refresh('#pending');
      refresh('[data-live="/fragments/recent"]');
    };
    events.addEventListener('approval_needed', update);
    events.addEventListener('approval_result', update);
    // a message from another channel, an approval outcome or a job: reload the log (not while a reply streams)
    events.addEventListener('messages', function () {
      if (!document.querySelector('#log .streaming')) refresh('#log').then(scrollLog);
    });
  }

  // a decision is sent once: the first click disables the card's buttons (a double click on
  // Approve would otherwise post twice, and the second answer would be "already decided")
  document.addEventListener('submit', function (e) {
    var target = e.target;
    var card = target && target.closest ? target.closest('.approval') : null;
    if (!card) return;
    if (card.getAttribute('data-submitted') === 'true') { e.preventDefault(); return; }
    card.setAttribute('data-submitted', 'true');
    // after this event, so the form is still sent
    window.setTimeout(function () {
      card.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // back from the next page (back-forward cache): the buttons work again
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) return;
    document.querySelectorAll('.approval[data-submitted]').forEach(function (card) {
      card.removeAttribute('data-submitted');
      card.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
    });
  });

  var form = document.getElementById('chat-form');
  if (!form) return;
  scrollLog();
  var box = document.getElementById('message');
  box.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var message = box.value.trim();
    if (!message) return;
    var button = form.querySelector('button');
    button.disabled = true;
    box.value = '';
    var log = document.getElementById('log');
    var mine = el('article', 'msg user');
    mine.appendChild(el('header', '', 'user'));
    mine.appendChild(el('div', 'text', message));
    log.appendChild(mine);
    var reply = el('article', 'msg assistant streaming');
    reply.appendChild(el('header', '', 'Lares'));
    var text = el('div', 'text', '');
    reply.appendChild(text);
    log.appendChild(reply);
    scrollLog();
    var tools = {};

    function handle(type, data) {
      if (type === 'text') { text.textContent += data.delta; }
      else if (type === 'tool_call') {
        var d = el('details', 'tool');
        var s = el('summary', '', 'tool ');
        s.appendChild(el('code', '', data.name));
        d.appendChild(s);
        d.appendChild(el('div', 'label', 'arguments'));
        d.appendChild(el('pre', '', JSON.stringify(data.input, null, 2)));
        reply.appendChild(d);
        tools[data.id] = d;
        text = el('div', 'text', '');
        reply.appendChild(text);
      } else if (type === 'tool_result') {
        var t = tools[data.id];
        if (t) { t.appendChild(el('div', 'label', 'result')); t.appendChild(el('pre', '', data.content)); }
        if (data.pendingApprovalId) refresh('#pending');
      } else if (type === 'retry') { text.textContent = ''; }
      else if (type === 'error') { reply.appendChild(el('p', 'error', data.message)); }
      scrollLog();
    }

    var body = new URLSearchParams();
    body.set('message', message);
    fetch('/chat', { method: 'POST', body: body, credentials: 'same-origin', headers: { accept: 'text/event-stream', 'x-csrf-token': csrf } })
      .then(function (response) {
        if (!response.ok || !response.body) {
          return response.text().then(function (t) { handle('error', { message: 'HTTP ' + response.status + ': ' + t.slice(0, 300) }); });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, '\n');
            var index;
            while ((index = buffer.indexOf('\n\n')) >= 0) {
              var block = buffer.slice(0, index);
              buffer = buffer.slice(index + 2);
              var type = 'message'; var data = [];
              block.split('\n').forEach(function (line) {
                if (line.indexOf('event:') === 0) type = line.slice(6).trim();
                else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
              });
              if (data.length) handle(type, JSON.parse(data.join('\n')));
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (error) { handle('error', { message: String(error) }); })
      .then(function () {
        reply.classList.remove('streaming');
        button.disabled = false;
        box.focus();
        refresh('#pending');
      });
  });
})();
