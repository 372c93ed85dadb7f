// SPDX-License-Identifier: GPL-2.0
// Drives Debian's headless chromium (playwright-core, executablePath
// /usr/bin/chromium) against a sonde flame-graph page and checks what a user
// would see. One line per check, "ok: ..." or "FAIL: ...", exit 1 on a failure.
//
//   node flame_check.mjs view URL HOT SHARE SEARCH SEARCH_SHARE PROCESS_RE THREAD_RE SHOT
//     the hot function's frame is SHARE of the root's width (±0.03), clicking it
//     zooms, Esc resets, SEARCH matches SEARCH_SHARE (±0.03), the process and
//     thread root frames match their regular expressions, kernel and user frames
//     differ in colour, the tooltip tells value and share; screenshot to SHOT
//   node flame_check.mjs diff URL NAME grew|shrank SHOT [base]
//     NAME's frame is coloured as grown (red) or shrunk (blue); with "base",
//     widths come from the base interval (where a frame that is gone still shows)
//   node flame_check.mjs large FILE [MIN_FRAMES]
//     a page with a very large tree draws only what is wider than a pixel,
//     merging the rest; prints how long drawing, zooming and searching took
import { chromium } from 'playwright-core';

const ROW = 17;
let failures = 0;

function check(what, ok, detail) {
	console.log((ok ? 'ok: ' : 'FAIL: ') + what + (detail ? ' (' + detail + ')' : ''));
	if (!ok)
		failures++;
}

function hue(rgb) {
	const m = rgb.match(/rgba?\((\d+), (\d+), (\d+)/);
	if (!m)
		return -1;
	const [r, g, b] = [m[1] / 255, m[2] / 255, m[3] / 255];
	const max = Math.max(r, g, b), min = Math.min(r, g, b), d = max - min;
	if (d === 0)
		return 0;
	let h;
	if (max === r)
		h = ((g - b) / d) % 6;
	else if (max === g)
		h = (b - r) / d + 2;
	else
		h = (r - g) / d + 4;
	return (h * 60 + 360) % 360;
}

async function frames(page) {
	return page.$$eval('#fg .f', (els) => els.map((e) => {
		const r = e.getBoundingClientRect();
		return {
			name: e.dataset.name, i: e.dataset.i, change: e.dataset.change,
			merged: e.dataset.merged, x: r.x, y: r.y, w: r.width,
			top: parseFloat(e.style.top), cls: e.className,
			bg: getComputedStyle(e).backgroundColor,
		};
	}));
}

function widest(list, name) {
	let best = null;
	for (const f of list)
		if (f.name === name && (!best || f.w > best.w))
			best = f;
	return best;
}

async function open(browser, url) {
	const page = await browser.newPage({viewport: {width: 1400, height: 900}});
	const errors = [];
	const requests = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => {
		if (m.type() === 'error')
			errors.push(m.text());
	});
	page.on('request', (r) => requests.push(r.url()));
	const t0 = Date.now();
	const resp = await page.goto(url, {waitUntil: 'load', timeout: 120000});
	const loadMs = Date.now() - t0;
	if (resp)
		check('the page answers 200', resp.status() === 200, 'status ' + resp.status());
	await page.waitForFunction(() => window.sondeFlame !== undefined, null, {timeout: 120000});
	check('the page runs without script errors', errors.length === 0, errors.join('; '));
	check('the page fetches nothing else', requests.length === 1,
		requests.slice(1).join(' '));
	return {page, loadMs};
}

async function view(browser, [url, hot, share, search, searchShare, procRe, threadRe, shot]) {
	const {page} = await open(browser, url);
	let list = await frames(page);
	const root = list.find((f) => f.i === '0');
	const h = widest(list, hot);
	check('the root frame spans the view', root && root.w > 1000, root && root.w.toFixed(0));
	check('the hot function ' + hot + ' has a frame', !!h);
	if (!root || !h)
		return;
	const got = h.w / root.w;
	check(hot + "'s frame is about its share of the profile",
		Math.abs(got - Number(share)) <= 0.03,
		'width ' + got.toFixed(3) + ', pprof says ' + Number(share).toFixed(3));

	const proc = list.find((f) => f.top === ROW && new RegExp(procRe).test(f.name));
	const thread = list.find((f) => f.top === 2 * ROW && new RegExp(threadRe).test(f.name));
	check('a process root frame ' + procRe + ' sits under "all"', !!proc);
	check('a thread root frame ' + threadRe + ' sits under the processes', !!thread);

	const kernel = list.find((f) => / k( |$)/.test(f.cls) && f.w > 2);
	check('kernel frames are drawn', !!kernel);
	if (kernel) {
		const kh = hue(kernel.bg), uh = hue(h.bg);
		check('kernel and user frames have distinct colours',
			kh >= 150 && kh <= 200 && uh >= 0 && uh <= 60,
			'kernel hue ' + kh.toFixed(0) + ', user hue ' + uh.toFixed(0));
	}

	await page.mouse.move(h.x + h.w / 2, h.y + 8);
	const tip = await page.$eval('#tip', (e) => ({hidden: e.hidden, text: e.textContent}));
	check('the tooltip names the frame with its value and share',
		!tip.hidden && tip.text.includes(hot) && /samples/.test(tip.text) &&
		/\d+\.\d\d% of all/.test(tip.text), tip.text);
	if (shot)
		await page.screenshot({path: shot});

	await page.mouse.click(h.x + h.w / 2, h.y + 8);
	const zoom = await page.evaluate(() => document.body.dataset.zoom);
	list = await frames(page);
	const z = list.find((f) => f.i === h.i);
	const fgWidth = await page.$eval('#fg', (e) => e.clientWidth);
	check('a click zooms on the frame', zoom === h.i && z && z.w >= 0.98 * fgWidth,
		'zoom ' + zoom + ', width ' + (z ? z.w.toFixed(0) : '-') + ' of ' + fgWidth);
	const anc = list.find((f) => f.i === '0');
	check('the frames above the zoomed one stay, dimmed', anc && /anc/.test(anc.cls));
	check('the crumbs say what is zoomed',
		(await page.textContent('#crumbs')).includes('Zoomed on ' + hot));
	await page.keyboard.press('Escape');
	check('Esc resets the zoom', await page.evaluate(() => document.body.dataset.zoom) === '0');
	await page.mouse.click(h.x + h.w / 2, h.y + 8);
	await page.click('#reset');
	check('the reset button resets the zoom',
		await page.evaluate(() => document.body.dataset.zoom) === '0');

	await page.fill('#search', search);
	const matched = await page.$eval('#matched', (e) => ({text: e.textContent,
		share: Number(e.dataset.share)}));
	const hl = await page.$$eval('#fg .f.hl', (els) => els.map((e) => e.dataset.name));
	check('the search highlights the matching frames',
		hl.length > 0 && hl.every((n) => new RegExp(search).test(n)), hl.length + ' frames');
	check('the search tells the matched share',
		Math.abs(matched.share - Number(searchShare)) <= 0.03 && /^Matched: \d/.test(matched.text),
		matched.text + ', pprof says ' + Number(searchShare).toFixed(3));
	await page.click('#clear');
	check('clearing the search removes the highlight',
		(await page.$$('#fg .f.hl')).length === 0);
}

async function diff(browser, [url, name, want, shot, widths]) {
	const {page} = await open(browser, url);
	if (widths === 'base') {
		await page.selectOption('#width', '1');
		check('the base interval can give the widths',
			(await page.$$('#fg .f')).length > 1);
	}
	const list = await frames(page);
	const f = widest(list, name);
	check(name + ' has a frame in the differential view', !!f);
	if (!f)
		return;
	const h = hue(f.bg);
	const red = h < 20 || h > 340, blue = h > 200 && h < 240;
	check(name + ' is coloured as ' + want, f.change === want &&
		(want === 'grew' ? red : blue), 'change ' + f.change + ', hue ' + h.toFixed(0));
	await page.mouse.move(f.x + f.w / 2, f.y + 8);
	const tip = await page.textContent('#tip');
	check('the tooltip gives both intervals and the change',
		/This interval: .*Base interval: .*Change: [+-]?\d/.test(tip), tip);
	check('the legend explains the colours', /grew.*shrank/.test(await page.textContent('#legend')));
	if (shot)
		await page.screenshot({path: shot});
}

async function large(browser, [file, minFrames]) {
	const {page, loadMs} = await open(browser, 'file://' + file);
	const info = await page.evaluate(() => ({
		count: window.sondeFlame.count,
		frames: Number(document.body.dataset.frames),
		renderMs: Number(document.body.dataset.renderMs),
		merged: document.querySelectorAll('#fg .f.m').length,
	}));
	check('the large page holds the whole tree', info.count >= Number(minFrames || 1),
		info.count + ' frames');
	check('only frames at least a pixel wide become elements', info.frames < 20000,
		info.frames + ' elements');
	check('narrower frames are merged into blocks', info.merged > 0, info.merged + ' blocks');
	const list = await frames(page);
	const target = list.filter((f) => f.top === 3 * ROW && f.i).sort((a, b) => b.w - a.w)[0];
	let t0 = Date.now();
	await page.mouse.click(target.x + target.w / 2, target.y + 8);
	const zoomMs = Date.now() - t0;
	const zoomed = await page.evaluate(() => Number(document.body.dataset.zoom));
	check('zooming works on the large page', String(zoomed) === target.i);
	t0 = Date.now();
	await page.fill('#search', 'fn_3_');
	const searchMs = Date.now() - t0;
	check('searching works on the large page',
		Number(await page.$eval('#matched', (e) => e.dataset.share)) > 0);
	console.log('large: ' + info.count + ' frames; load ' + loadMs + ' ms, first draw ' +
		info.renderMs + ' ms, ' + info.frames + ' elements; zoom ' + zoomMs +
		' ms, search ' + searchMs + ' ms');
}

const [mode, ...args] = process.argv.slice(2);
const modes = {view, diff, large};
if (!modes[mode]) {
	console.error('usage: flame_check.mjs view|diff|large ARGS...');
	process.exit(2);
}
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
	await modes[mode](browser, args);
} catch (e) {
	check('the browser session completes', false, String(e));
} finally {
	await browser.close();
}
process.exit(failures ? 1 : 0);
