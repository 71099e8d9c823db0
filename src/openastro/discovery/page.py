"""The explorer page: one self-contained HTML file (plotly.js inlined, nothing fetched) holding its data in one
JSON blob (`<script id="openastro-data" type="application/json">`), with the 2-D and 3-D maps, a colour menu
over the metadata columns, a thumbnail on hover and a clicked point's nearest neighbours in a side panel."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

DATA_ID = "openastro-data"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 8px 14px; background: #f4f4f6; border-bottom: 1px solid #ddd; display: flex; gap: 18px;
         align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0; }
#main { display: flex; height: calc(100vh - 50px); }
#plots { flex: 1; position: relative; min-width: 0; }
#plot2d, #plot3d { position: absolute; inset: 0; }
aside { width: 300px; border-left: 1px solid #ddd; padding: 10px; overflow-y: auto; font-size: 13px; }
img.thumb { image-rendering: pixelated; background: #000; }
#hover img { width: 128px; height: 128px; }
#legend span.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
#legend div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
ol#neighbours { padding-left: 20px; }
ol#neighbours li { margin: 4px 0; cursor: pointer; }
ol#neighbours img { width: 32px; height: 32px; vertical-align: middle; margin-right: 6px; }
table.meta td { padding: 1px 6px 1px 0; vertical-align: top; }
.muted { color: #777; }
"""

APP = r"""
(function () {
  const data = JSON.parse(document.getElementById('openastro-data').textContent);
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                   '#bcbd22', '#17becf', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94',
                   '#f7b6d2', '#dbdb8d', '#9edae5', '#393b79'];
  const n = data.ids.length, row = new Map(data.ids.map((id, k) => [id, k]));
  const index = Array.from({length: n}, (_, k) => k);
  const divs = {'2d': document.getElementById('plot2d'), '3d': document.getElementById('plot3d')};
  const col = (a, j) => a.map(p => p[j]);
  const el = (tag, text) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; };
  const thumb = (k, cls) => { const img = el('img'); img.className = 'thumb ' + (cls || '');
    if (k !== undefined && data.thumbnails[k]) img.src = 'data:image/png;base64,' + data.thumbnails[k]; return img; };

  function marker(name) {
    if (!name) return {color: '#4c78a8', showscale: false};
    const c = data.colors[name];
    if (c.kind === 'numeric') return {color: c.values.map(v => v === null ? NaN : v), colorscale: 'Viridis',
                                      showscale: true, colorbar: {title: {text: name}}};
    const at = new Map(c.categories.map((v, k) => [v, k]));
    return {color: c.values.map(v => at.has(v) ? palette[at.get(v) % palette.length] : '#c8c8c8'), showscale: false};
  }

  function legend(name) {
    const box = document.getElementById('legend'); box.replaceChildren();
    if (!name || data.colors[name].kind !== 'categorical') return;
    data.colors[name].categories.forEach((v, k) => { const d = el('div'); const s = el('span');
      s.className = 'swatch'; s.style.background = palette[k % palette.length]; d.append(s, el('span', v)); box.append(d); });
  }

  const esc = s => String(s).replace(/[<>&"]/g, c => '&#' + c.charCodeAt(0) + ';');
  function hovertext(k, name) {
    const value = name ? data.colors[name].values[k] : null;
    return esc(data.ids[k]) + (name ? '<br>' + esc(name) + ': ' + (value === null ? '-' : esc(value)) : '');
  }

  function traces(view, name) {
    const three = view === '3d', xyz = three ? data.xyz : data.xy;
    const type = three ? 'scatter3d' : (n > 3000 ? 'scattergl' : 'scatter');
    const base = {type: type, mode: 'markers', x: col(xyz, 0), y: col(xyz, 1), customdata: index,
                  text: index.map(k => hovertext(k, name)),
                  hovertemplate: '%{text}<extra></extra>',
                  marker: Object.assign({size: three ? 3 : 6, opacity: 0.85}, marker(name))};
    const ring = {type: type, mode: 'markers', x: [], y: [], hoverinfo: 'skip', showlegend: false,
                  marker: {size: three ? 6 : 13, color: 'rgba(0,0,0,0)', line: {color: '#ff7f0e', width: 2}}};
    const chosen = {type: type, mode: 'markers', x: [], y: [], hoverinfo: 'skip', showlegend: false,
                    marker: {size: three ? 8 : 16, color: 'rgba(0,0,0,0)', line: {color: '#d62728', width: 3},
                             symbol: 'diamond-open'}};
    if (three) { base.z = col(xyz, 2); ring.z = []; chosen.z = []; }
    return [base, ring, chosen];
  }

  const layout = view => view === '3d'
    ? {margin: {l: 0, r: 0, t: 10, b: 0}, showlegend: false, scene: {xaxis: {title: {text: 'UMAP 1'}},
       yaxis: {title: {text: 'UMAP 2'}}, zaxis: {title: {text: 'UMAP 3'}}}}
    : {margin: {l: 40, r: 10, t: 10, b: 40}, showlegend: false, hovermode: 'closest',
       xaxis: {title: {text: 'UMAP 1'}, zeroline: false}, yaxis: {title: {text: 'UMAP 2'}, zeroline: false}};

  function draw(view) {
    const div = divs[view], name = document.getElementById('color').value || null;
    Plotly.react(div, traces(view, name), layout(view), {responsive: true, displaylogo: false});
    div.on('plotly_hover', ev => { const p = ev.points[0]; if (p.curveNumber === 0) hover(p.customdata); });
    div.on('plotly_click', ev => { const p = ev.points[0]; if (p.curveNumber === 0) select(p.customdata); });
  }

  function hover(k) {
    const box = document.getElementById('hover'); box.replaceChildren(thumb(k), el('div', data.ids[k]));
  }

  function mark(view, trace, ks) {
    const xyz = view === '3d' ? data.xyz : data.xy, update = {x: [ks.map(k => xyz[k][0])], y: [ks.map(k => xyz[k][1])]};
    if (view === '3d') update.z = [ks.map(k => xyz[k][2])];
    if (divs[view].data) Plotly.restyle(divs[view], update, [trace]);
  }

  function select(k) {
    const panel = document.getElementById('selected'); panel.replaceChildren();
    const big = thumb(k); big.style.width = '128px'; big.style.height = '128px';
    panel.append(el('h3', data.ids[k]), big);
    const table = el('table'); table.className = 'meta';
    for (const name of Object.keys(data.colors)) { const tr = el('tr'); const v = data.colors[name].values[k];
      tr.append(el('td', name), el('td', v === null ? '-' : String(v))); table.append(tr); }
    panel.append(table, el('h4', data.neighbours[k].length + ' nearest neighbours'));
    const list = el('ol'); list.id = 'neighbours';
    const shown = [];
    for (const hit of data.neighbours[k]) {
      const li = el('li'), j = row.get(hit.id);
      const distance = el('span', hit.distance.toFixed(4)); distance.className = 'muted';
      li.append(thumb(j), el('span', hit.id + '  '), distance);
      if (j === undefined) li.title = 'not among the points shown'; else { shown.push(j); li.onclick = () => select(j); }
      list.append(li);
    }
    panel.append(list);
    for (const view of ['2d', '3d']) { mark(view, 1, shown); mark(view, 2, [k]); }
  }

  function show(view) {
    for (const v of ['2d', '3d']) divs[v].style.visibility = v === view ? 'visible' : 'hidden';
    if (!divs[view].data) draw(view); else Plotly.Plots.resize(divs[view]);
  }

  const menu = document.getElementById('color');
  const none = el('option', '(none)'); none.value = ''; menu.append(none);
  for (const name of Object.keys(data.colors)) { const o = el('option', name + ' (' + data.colors[name].kind + ')');
    o.value = name; menu.append(o); }
  menu.value = data.default_color || '';
  menu.onchange = () => { const name = menu.value || null; legend(name);
    for (const v of ['2d', '3d']) if (divs[v].data) { const m = marker(name);
      Plotly.restyle(divs[v], {'marker.color': [m.color], 'marker.colorscale': [m.colorscale || null],
                               'marker.showscale': [m.showscale], 'marker.colorbar.title.text': [name || ''],
                               text: [index.map(k => hovertext(k, name))]}, [0]); } };
  document.querySelectorAll('input[name=view]').forEach(r => r.onchange = () => show(r.value));
  document.getElementById('count').textContent = n + ' of ' + data.total + ' objects, ' + data.k + ' neighbours each';
  legend(data.default_color);
  show('2d');
})();
"""


def page_html(data: dict[str, Any], plotly_js: str) -> str:
    """The page's text: the data blob escaped so no value can end its script element."""
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False)
    blob = blob.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = html.escape(f"OpenAstro explorer: {data['name']}")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{title}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<header><h1>{title}</h1><span id=\"count\" class=\"muted\"></span>",
        '<label>colour <select id="color"></select></label>',
        '<label><input type="radio" name="view" value="2d" checked> 2-D</label>',
        '<label><input type="radio" name="view" value="3d"> 3-D</label></header>',
        '<div id="main"><div id="plots"><div id="plot2d"></div><div id="plot3d"></div></div>',
        '<aside><div id="hover" class="muted">hover a point for its thumbnail; click it for its neighbours</div>',
        '<div id="legend"></div><div id="selected"></div></aside></div>',
        f'<script id="{DATA_ID}" type="application/json">{blob}</script>',
        f"<script>{plotly_js}</script>", f"<script>{APP}</script>", "</body></html>", ""])


def write_page(data: dict[str, Any], path: Path | str) -> Path:
    """Write the explorer page (plotly.js inlined: the page works offline)."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    path.write_text(page_html(data, get_plotlyjs()), encoding="utf-8")
    return path


def read_page_data(path: Path | str) -> dict[str, Any]:
    """The data blob of an explorer page (for tests and tools)."""
    import re

    text = Path(path).read_text(encoding="utf-8")
    found = re.search(f'<script id="{DATA_ID}" type="application/json">(.*?)</script>', text, re.S)
    if found is None:
        from openastro.core.errors import InputError

        raise InputError(f"{path} is not an explorer page (no {DATA_ID} data); make one with `openastro explore`")
    return json.loads(found.group(1))
