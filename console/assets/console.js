// refx console: live updates of the inbox (server-sent events) and the
// find-on-this-page filter. The pages work without it.
(function () {
  'use strict';
  function refreshRows(table, status, note) {
    fetch(table.getAttribute('data-live-rows'), { credentials: 'same-origin', headers: { 'Accept': 'application/octet-stream' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
      .then(function (html) {
        table.tBodies[0].innerHTML = html;
        applyFilter();
        if (status && note) { status.textContent = note; }
      })
      .catch(function () { if (status) { status.textContent = 'Live updates paused: reload the page.'; } });
  }
  function applyFilter() {
    var input = document.querySelector('[data-filter-table]');
    if (!input) { return; }
    var table = document.getElementById(input.getAttribute('data-filter-table'));
    var text = input.value.trim().toUpperCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var id = row.getAttribute('data-referral') || '';
      row.hidden = text !== '' && id.toUpperCase().indexOf(text) === -1;
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var input = document.querySelector('[data-filter-table]');
    if (input) { input.addEventListener('input', applyFilter); }
    var table = document.querySelector('table[data-live-events]');
    if (!table || !window.EventSource) { return; }
    var status = document.getElementById('live');
    var source = new EventSource(table.getAttribute('data-live-events'));
    source.addEventListener('ready', function () { table.setAttribute('data-live', 'on'); });
    source.addEventListener('case', function (e) {
      var data = JSON.parse(e.data);
      refreshRows(table, status, 'Updated: ' + data.referral_id + ' at ' + data.destination + ' (' + data.what.replace(/_/g, ' ') + ').');
    });
  });
}());
