// SPDX-License-Identifier: GPL-2.0
// sonde's flame graph: draws the frame tree the daemon embeds in the page
// (see daemon/flame.c for the data), root on top. Click a frame to zoom,
// Esc or "Reset zoom" to go back, search with a regular expression. Only
// frames at least a pixel wide become elements: runs of narrower siblings
// are drawn as one hatched block, so a profile with 100k distinct stacks
// costs no more to draw than what can be seen.
'use strict';
(function () {
	const ROW = 17;
	const MIN_PX = 1;
	const TEXT_PX = 14;
	const TYPE_NAMES = ['all', 'process', 'thread', 'user', 'kernel', 'sonde'];

	const data = JSON.parse(document.getElementById('sonde-data').textContent);
	const diff = data.diff;
	const stride = diff ? 5 : 4;
	const raw = data.nodes;
	const count = raw.length / stride;
	const names = data.names;

	const nameOf = new Int32Array(count);
	const typeOf = new Uint8Array(count);
	const depthOf = new Int32Array(count);
	const parent = new Int32Array(count);
	const firstChild = new Int32Array(count).fill(-1);
	const nextSibling = new Int32Array(count).fill(-1);
	const values = [new Float64Array(count), new Float64Array(count)];

	// The nodes come in preorder with their depth: the last node seen at
	// depth d - 1 is the parent of a node at depth d.
	(function build() {
		const lastChild = new Int32Array(count).fill(-1);
		const path = [];
		for (let i = 0; i < count; i++) {
			const o = i * stride;
			const d = raw[o + 2];
			nameOf[i] = raw[o];
			typeOf[i] = raw[o + 1];
			depthOf[i] = d;
			values[0][i] = raw[o + 3];
			if (diff)
				values[1][i] = raw[o + 4];
			path[d] = i;
			const p = d > 0 ? path[d - 1] : -1;
			parent[i] = p;
			if (p >= 0) {
				if (lastChild[p] < 0)
					firstChild[p] = i;
				else
					nextSibling[lastChild[p]] = i;
				lastChild[p] = i;
			}
		}
	})();

	const totals = [data.totals[0] || 0, data.totals[1] || 0];
	const fg = document.getElementById('fg');
	const tip = document.getElementById('tip');
	const crumbs = document.getElementById('crumbs');
	const matchedEl = document.getElementById('matched');
	const searchEl = document.getElementById('search');
	const widthSel = document.getElementById('width');

	let side = 0; // which interval gives the widths: 0 this one, 1 the base
	let zoom = 0;
	let match = null; // Uint8Array over nodes, or null without a search
	let elements = []; // rendered element → node, by data-i

	function width(i) {
		return values[side][i];
	}

	function selfOf(i, s) {
		let v = values[s][i];
		for (let c = firstChild[i]; c >= 0; c = nextSibling[c])
			v -= values[s][c];
		return v > 0 ? v : 0;
	}

	function fmtValue(v) {
		const unit = data.unit;
		if (unit === 'nanoseconds') {
			if (v >= 1e9)
				return (v / 1e9).toFixed(2) + ' s';
			if (v >= 1e6)
				return (v / 1e6).toFixed(2) + ' ms';
			if (v >= 1e3)
				return (v / 1e3).toFixed(1) + ' µs';
			return v + ' ns';
		}
		if (unit === 'bytes') {
			const steps = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
			let k = 0;
			while (v >= 1024 && k < steps.length - 1) {
				v /= 1024;
				k++;
			}
			return (k ? v.toFixed(1) : String(v)) + ' ' + steps[k];
		}
		return v.toLocaleString('en-US') + ' ' + (unit || '');
	}

	function pct(part, whole) {
		return whole > 0 ? (100 * part / whole).toFixed(2) + '%' : '–';
	}

	function hashName(s) {
		let h = 2166136261;
		for (let k = 0; k < s.length; k++) {
			h ^= s.charCodeAt(k);
			h = Math.imul(h, 16777619);
		}
		return (h >>> 0) / 4294967296;
	}

	// Share of the whole in each interval, and the change between them,
	// relative to the larger share: +1 new, -1 gone, 0 unchanged.
	function change(i) {
		const cur = totals[0] > 0 ? values[0][i] / totals[0] : 0;
		const old = totals[1] > 0 ? values[1][i] / totals[1] : 0;
		const top = Math.max(cur, old);
		return {cur, old, rel: top > 0 ? (cur - old) / top : 0};
	}

	function colour(i) {
		const t = typeOf[i];
		if (diff && t >= 3) {
			const r = change(i).rel;
			const light = 97 - 47 * Math.min(1, Math.abs(r));
			return r >= 0 ? 'hsl(0,85%,' + light + '%)' : 'hsl(220,85%,' + light + '%)';
		}
		if (t === 0 || t === 5)
			return 'hsl(0,0%,80%)';
		if (t === 1)
			return 'hsl(270,45%,72%)';
		if (t === 2)
			return 'hsl(255,40%,82%)';
		const h = hashName(names[nameOf[i]]);
		if (t === 4)
			return 'hsl(' + (160 + 30 * h).toFixed(0) + ',55%,' + (58 + 12 * h).toFixed(0) + '%)';
		return 'hsl(' + (12 + 36 * h).toFixed(0) + ',85%,' + (56 + 10 * h).toFixed(0) + '%)';
	}

	function frameEl(i, x, w, d, cls) {
		const el = document.createElement('div');
		el.className = cls;
		el.style.left = x.toFixed(2) + 'px';
		el.style.top = (d * ROW) + 'px';
		el.style.width = w.toFixed(2) + 'px';
		if (i >= 0) {
			el.style.background = colour(i);
			el.dataset.i = i;
			el.dataset.name = names[nameOf[i]];
			if (diff) {
				const r = change(i).rel;
				el.dataset.change = r > 0.05 ? 'grew' : r < -0.05 ? 'shrank' : 'same';
			}
			if (w >= TEXT_PX)
				el.textContent = names[nameOf[i]];
		}
		return el;
	}

	function render() {
		const t0 = performance.now();
		const full = fg.clientWidth;
		const frag = document.createDocumentFragment();
		let maxDepth = 0;
		elements = [];

		function add(el) {
			frag.appendChild(el);
			elements.push(el);
		}

		function frame(i, x, w, d, anc) {
			let cls = 'f';
			if (typeOf[i] === 4)
				cls += ' k';
			if (anc)
				cls += ' anc';
			if (match && match[i])
				cls += ' hl';
			add(frameEl(i, x, w, d, cls));
			if (d > maxDepth)
				maxDepth = d;
		}

		function place(n, x, w, d) {
			frame(n, x, w, d, false);
			const total = width(n);
			if (total <= 0)
				return;
			const scale = w / total;
			let cx = x;
			let mx = 0;
			let mw = 0;
			let mn = 0;
			const flush = function () {
				if (mn && mw >= 0.5) {
					const el = frameEl(-1, mx, Math.max(mw, 1), d + 1, 'f m');
					el.dataset.merged = mn;
					el.dataset.parent = n;
					add(el);
				}
				mn = 0;
				mw = 0;
			};
			for (let c = firstChild[n]; c >= 0; c = nextSibling[c]) {
				const cw = width(c) * scale;
				if (cw <= 0)
					continue;
				if (cw < MIN_PX) {
					if (!mn)
						mx = cx;
					mn++;
					mw += cw;
				} else {
					flush();
					place(c, cx, cw, d + 1);
				}
				cx += cw;
			}
			flush();
		}

		const chain = [];
		for (let a = parent[zoom]; a >= 0; a = parent[a])
			chain.push(a);
		chain.reverse();
		for (const a of chain)
			frame(a, 0, full, depthOf[a], true);
		if (width(zoom) > 0)
			place(zoom, 0, full, depthOf[zoom]);

		fg.textContent = '';
		fg.appendChild(frag);
		fg.style.height = ((maxDepth + 1) * ROW + 4) + 'px';
		crumbs.textContent = zoom ? 'Zoomed on ' + names[nameOf[zoom]] + ' (' +
			pct(width(zoom), width(0)) + ' of all) — click an upper frame or press Esc to zoom out' :
			'Click a frame to zoom.';
		document.body.dataset.zoom = zoom;
		document.body.dataset.frames = elements.length;
		document.body.dataset.renderMs = (performance.now() - t0).toFixed(1);
	}

	function zoomTo(i) {
		if (i < 0 || i >= count || width(i) <= 0)
			return;
		zoom = i;
		render();
	}

	function runSearch() {
		const q = searchEl.value;
		if (!q) {
			match = null;
			matchedEl.textContent = '';
			render();
			return;
		}
		let re;
		try {
			re = new RegExp(q);
		} catch (e) {
			re = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
		}
		const byName = new Uint8Array(names.length);
		for (let k = 0; k < names.length; k++)
			byName[k] = re.test(names[k]) ? 1 : 0;
		match = new Uint8Array(count);
		// A matched frame counts once, not again for matched frames above it.
		const under = new Uint8Array(count);
		let sum = 0;
		for (let i = 0; i < count; i++) {
			const p = parent[i];
			const inside = p >= 0 && under[p];
			match[i] = byName[nameOf[i]];
			if (match[i] && !inside)
				sum += width(i);
			under[i] = inside || match[i];
		}
		matchedEl.textContent = 'Matched: ' + pct(sum, width(0)) + ' (' + fmtValue(sum) + ')';
		matchedEl.dataset.share = width(0) > 0 ? (sum / width(0)).toFixed(6) : '0';
		render();
	}

	function tipText(el) {
		const lines = [];
		if (el.dataset.merged) {
			lines.push(['b', el.dataset.merged + ' frames narrower than a pixel']);
			lines.push(['', 'Zoom on the frame above them to see them.']);
			return lines;
		}
		const i = Number(el.dataset.i);
		lines.push(['b', names[nameOf[i]]]);
		lines.push(['', TYPE_NAMES[typeOf[i]] + ' frame']);
		if (diff) {
			const c = change(i);
			const points = (100 * (c.cur - c.old)).toFixed(2);
			lines.push(['', 'This interval: ' + fmtValue(values[0][i]) + ', ' +
				(100 * c.cur).toFixed(2) + '% of its total']);
			lines.push(['', 'Base interval: ' + fmtValue(values[1][i]) + ', ' +
				(100 * c.old).toFixed(2) + '% of its total']);
			lines.push(['', 'Change: ' + (points > 0 ? '+' : '') + points + ' points']);
		} else {
			lines.push(['', fmtValue(values[0][i]) + ', ' + pct(values[0][i], totals[0]) +
				' of all']);
			if (zoom)
				lines.push(['', pct(values[0][i], values[0][zoom]) + ' of the zoomed frame']);
			lines.push(['', 'Self: ' + fmtValue(selfOf(i, 0))]);
		}
		return lines;
	}

	fg.addEventListener('click', function (ev) {
		const el = ev.target.closest('.f');
		if (el && el.dataset.i !== undefined)
			zoomTo(Number(el.dataset.i));
	});
	fg.addEventListener('mousemove', function (ev) {
		const el = ev.target.closest('.f');
		if (!el) {
			tip.hidden = true;
			return;
		}
		tip.textContent = '';
		for (const [tag, text] of tipText(el)) {
			const line = document.createElement(tag || 'div');
			line.textContent = text;
			tip.appendChild(line);
		}
		tip.hidden = false;
		const x = Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 4);
		const y = ev.clientY + 16 + tip.offsetHeight > window.innerHeight ?
			ev.clientY - tip.offsetHeight - 8 : ev.clientY + 16;
		tip.style.left = Math.max(0, x) + 'px';
		tip.style.top = Math.max(0, y) + 'px';
	});
	fg.addEventListener('mouseleave', function () {
		tip.hidden = true;
	});
	document.getElementById('reset').addEventListener('click', function () {
		zoomTo(0);
	});
	document.getElementById('clear').addEventListener('click', function () {
		searchEl.value = '';
		runSearch();
	});
	searchEl.addEventListener('input', runSearch);
	document.addEventListener('keydown', function (ev) {
		if (ev.key === 'Escape') {
			zoomTo(0);
		} else if (ev.key === '/' && document.activeElement !== searchEl) {
			ev.preventDefault();
			searchEl.focus();
		}
	});
	widthSel.addEventListener('change', function () {
		side = Number(widthSel.value) ? 1 : 0;
		zoom = 0;
		if (match)
			runSearch();
		else
			render();
	});
	let pending = false;
	window.addEventListener('resize', function () {
		if (pending)
			return;
		pending = true;
		requestAnimationFrame(function () {
			pending = false;
			render();
		});
	});

	function span(parentEl, text) {
		const s = document.createElement('span');
		s.textContent = text;
		parentEl.appendChild(s);
	}

	function interval(t, d) {
		const start = new Date(t / 1e6);
		return start.toISOString().replace('.000Z', 'Z') + ' for ' + (d / 1e9).toFixed(0) + ' s';
	}

	function legend() {
		const el = document.getElementById('legend');
		const items = diff ?
			[['hsl(0,85%,50%)', 'grew (share of total)'], ['hsl(220,85%,50%)', 'shrank'],
				['hsl(0,0%,97%)', 'unchanged'], ['hsl(270,45%,72%)', 'process'],
				['hsl(255,40%,82%)', 'thread']] :
			[['hsl(30,85%,60%)', 'user'], ['hsl(175,55%,64%)', 'kernel (italic)'],
				['hsl(270,45%,72%)', 'process'], ['hsl(255,40%,82%)', 'thread']];
		for (const [c, label] of items) {
			const sw = document.createElement('i');
			sw.style.background = c;
			el.appendChild(sw);
			el.appendChild(document.createTextNode(label));
		}
	}

	document.getElementById('title').textContent = 'sonde ' + data.kind +
		(diff ? ' differential flame graph' : ' flame graph');
	document.title = document.getElementById('title').textContent;
	const meta = document.getElementById('meta');
	span(meta, interval(data.time_nanos, data.duration_nanos));
	span(meta, 'total ' + fmtValue(totals[0]));
	if (diff) {
		span(meta, 'against base ' + interval(data.base_time_nanos, data.base_duration_nanos));
		span(meta, 'base total ' + fmtValue(totals[1]));
		document.getElementById('widthctl').hidden = false;
	}
	span(meta, count.toLocaleString('en-US') + ' frames');
	if (data.truncated > 0)
		span(meta, fmtValue(data.truncated) + ' beyond the frame limit, kept in their parents');
	legend();

	if (totals[0] <= 0 && totals[1] <= 0) {
		const empty = document.createElement('div');
		empty.id = 'empty';
		empty.textContent = 'No samples in this interval.';
		fg.replaceWith(empty);
		return;
	}
	if (totals[0] <= 0)
		side = 1;
	render();
	window.sondeFlame = {zoomTo: zoomTo, render: render, count: count};
})();
