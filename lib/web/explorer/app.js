// Vista explorer: search, tag facets, image and hotel views, likes → recommendations.
// Preact + htm as published ES modules (see index.html's import map): no build step.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const config = window.VISTA_CONFIG || { apiBase: '' };
const LIKES_KEY = 'vista.likes';

const TOKEN_KEY = 'vista.token';
const PENDING_KEY = 'vista.signin';

// Deployed (config.auth): Cognito's hosted sign-in, authorization code with PKCE (no secret in
// the page, no token in the URL); the ID token is kept for this tab only.
function token() {
  const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null');
  return saved && Date.now() < saved.expiresAt ? saved.idToken : null;
}

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomText = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));

async function signIn() {
  const a = config.auth;
  const verifier = randomText(32);
  const state = randomText(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const query = new URLSearchParams({ response_type: 'code', client_id: a.clientId, redirect_uri: a.redirectUri, scope: 'openid email', state, code_challenge: challenge, code_challenge_method: 'S256' });
  location.assign(`https://${a.domain}/oauth2/authorize?${query}`);
}

/** Back from the hosted sign-in (`?code=…&state=…`): the code and the verifier buy the tokens. */
async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (!code) return;
  history.replaceState(null, '', location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
  sessionStorage.removeItem(PENDING_KEY);
  if (!pending || pending.state !== params.get('state')) throw new Error('sign-in could not be verified; sign in again');
  const a = config.auth;
  const body = new URLSearchParams({ grant_type: 'authorization_code', client_id: a.clientId, code, redirect_uri: a.redirectUri, code_verifier: pending.verifier });
  const res = await fetch(`https://${a.domain}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  if (!res.ok) throw new Error(`sign-in failed (HTTP ${res.status}); sign in again`);
  const tokens = await res.json();
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ idToken: tokens.id_token, expiresAt: Date.now() + (tokens.expires_in - 60) * 1000 }));
}

async function api(path, body) {
  const headers = { accept: 'application/json' };
  const bearer = config.auth ? token() : null;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(config.apiBase + path, { method: body ? 'POST' : 'GET', headers, body: body ? JSON.stringify(body) : undefined });
  if (res.status === 401 && bearer) {
    // Expired or revoked: back to the sign-in bar.
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
  return json;
}

const thumb = (r) => (/^https?:/.test(r.thumbnail_url) ? r.thumbnail_url : config.apiBase + r.thumbnail_url);
const enc = encodeURIComponent;

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const [, kind, id] = /^#\/(image|hotel)\/(.+)$/.exec(hash) || [];
  return kind ? { kind, id: decodeURIComponent(id) } : { kind: 'search' };
}

function useLikes() {
  const [likes, setLikes] = useState(() => JSON.parse(localStorage.getItem(LIKES_KEY) || '[]'));
  const toggle = (id) => {
    const next = likes.includes(id) ? likes.filter((x) => x !== id) : [...likes, id];
    localStorage.setItem(LIKES_KEY, JSON.stringify(next));
    setLikes(next);
  };
  return [likes, toggle];
}

function LikeButton({ id, likes, toggle }) {
  const liked = likes.includes(id);
  return html`<button type="button" aria-pressed=${liked} onClick=${() => toggle(id)} aria-label=${`${liked ? 'Unlike' : 'Like'} ${id}`}>${liked ? '♥ Liked' : '♡ Like'}</button>`;
}

function Card({ r, likes, toggle }) {
  return html`<li class="card" data-image-id=${r.image_id}>
    <a class="thumb" href=${`#/image/${enc(r.image_id)}`}><img src=${thumb(r)} alt=${r.tags.join(', ') || 'untagged image'} loading="lazy" width="320" height="240" /></a>
    <div class="meta">
      <span class="seo">${r.seo_filename}</span>
      <span class="tags">${r.tags.slice(0, 3).map((t) => html`<span class="tag">${t}</span>`)}</span>
      ${r.hotel_id ? html`<a href=${`#/hotel/${enc(r.hotel_id)}`}>${r.hotel_name || r.hotel_id}${r.city ? `, ${r.city}` : ''}</a>` : null}
      <${LikeButton} id=${r.image_id} likes=${likes} toggle=${toggle} />
    </div>
  </li>`;
}

function Grid({ results, likes, toggle, label }) {
  if (!results) return null;
  if (results.length === 0) return html`<p class="notice">No images.</p>`;
  return html`<ul class="grid" aria-label=${label}>${results.map((r) => html`<${Card} key=${r.image_id} r=${r} likes=${likes} toggle=${toggle} />`)}</ul>`;
}

function Facets({ tags, selected, onToggle }) {
  if (!tags) return html`<aside class="facets"><p class="notice">Loading tags…</p></aside>`;
  const all = [...tags.categories.flatMap((c) => c.labels), ...tags.other].filter((t) => t.count > 0).sort((a, b) => b.count - a.count);
  return html`<aside class="facets" aria-label="Tags">
    <h2>Tags <span class="count">(${tags.images} images)</span></h2>
    <ul>${all.map((t) => html`<li><button type="button" aria-pressed=${selected.includes(t.name)} onClick=${() => onToggle(t.name)}><span>${t.display || t.name}</span><span class="count">${t.count}</span></button></li>`)}</ul>
  </aside>`;
}

function SearchView({ likes, toggle, tags }) {
  const [form, setForm] = useState({ text: '', hotel_id: '', city: '' });
  const [selected, setSelected] = useState([]);
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [recs, setRecs] = useState(null);

  const run = async (tagsWanted = selected, cursor) => {
    const body = { k: 24, ...(form.text ? { text: form.text } : {}), ...(tagsWanted.length ? { tags: tagsWanted } : {}), ...(form.hotel_id ? { hotel_id: form.hotel_id } : {}), ...(form.city ? { city: form.city } : {}), ...(cursor ? { cursor } : {}) };
    if (!body.text && !body.tags && !body.hotel_id && !body.city) return setAnswer(null);
    setError(null);
    try {
      const next = await api('/v1/search', body);
      setAnswer(cursor && answer ? { ...next, results: [...answer.results, ...next.results] } : next);
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    if (likes.length === 0) return setRecs(null);
    api('/v1/recommendations', { liked: likes, k: 12 }).then((a) => setRecs(a.results), (e) => setError(e.message));
  }, [likes.join(',')]);

  const toggleTag = (t) => {
    const next = selected.includes(t) ? selected.filter((x) => x !== t) : [...selected, t];
    setSelected(next);
    run(next);
  };
  const field = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  return html`
    <header class="bar">
      <a class="brand" href="#/">Vista</a>
      <form role="search" onSubmit=${(e) => { e.preventDefault(); run(); }}>
        <input type="search" name="text" aria-label="Search images" placeholder="family-friendly hotel with a pool and ocean view" value=${form.text} onInput=${field('text')} />
        <input type="text" name="hotel" aria-label="Hotel id" placeholder="hotel id" size="10" value=${form.hotel_id} onInput=${field('hotel_id')} />
        <input type="text" name="city" aria-label="City" placeholder="city" size="10" value=${form.city} onInput=${field('city')} />
        <button class="primary" type="submit">Search</button>
      </form>
    </header>
    <div class="layout">
      <${Facets} tags=${tags} selected=${selected} onToggle=${toggleTag} />
      <main>
        ${error ? html`<p class="error" role="alert">${error}</p>` : null}
        ${recs ? html`<section aria-label="Recommendations"><h2>Recommended for you (${likes.length} liked)</h2><${Grid} results=${recs} likes=${likes} toggle=${toggle} label="Recommended images" /></section>` : null}
        ${answer
          ? html`<section aria-label="Results"><h2>Results</h2><${Grid} results=${answer.results} likes=${likes} toggle=${toggle} label="Search results" />
              ${answer.next_cursor ? html`<p><button type="button" onClick=${() => run(selected, answer.next_cursor)}>More</button></p>` : null}</section>`
          : html`<p class="notice">Search by text, pick tags, or filter by hotel or city. Like images to get recommendations.</p>`}
      </main>
    </div>`;
}

function Back() {
  return html`<header class="bar"><a class="brand" href="#/">Vista</a><a class="link" href="#/" onClick=${(e) => { if (history.length > 1) { e.preventDefault(); history.back(); } }}>← Back</a></header>`;
}

function ImageView({ id, likes, toggle }) {
  const [image, setImage] = useState(null);
  const [similar, setSimilar] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setImage(null);
    setSimilar(null);
    api(`/v1/images/${enc(id)}`).then(setImage, (e) => setError(e.message));
    api(`/v1/images/${enc(id)}/similar?k=12`).then((a) => setSimilar(a.results), (e) => setError(e.message));
  }, [id]);
  return html`<${Back} />
    <main class="layout" style="grid-template-columns: 1fr">
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      ${image
        ? html`<section class="detail" aria-label="Image">
            <img src=${thumb(image)} alt=${image.tags.join(', ') || 'untagged image'} />
            <div>
              <h1 class="seo">${image.seo_filename}</h1>
              <p><${LikeButton} id=${image.image_id} likes=${likes} toggle=${toggle} /></p>
              <table><tbody>
                <tr><th>Image id</th><td>${image.image_id}</td></tr>
                <tr><th>Hotel</th><td>${image.hotel_id ? html`<a href=${`#/hotel/${enc(image.hotel_id)}`}>${image.hotel_name || image.hotel_id}</a>` : '—'}${image.city ? `, ${image.city}` : ''}</td></tr>
                <tr><th>Source</th><td class="seo">${image.source_uri}</td></tr>
                <tr><th>Dimensions</th><td>${image.width} × ${image.height} ${image.format}</td></tr>
                <tr><th>Model</th><td class="seo">${image.model_id}</td></tr>
              </tbody></table>
              <h2>Tags</h2>
              <table aria-label="Tags and scores"><thead><tr><th>Tag</th><th>Score</th></tr></thead>
                <tbody>${image.tags.map((t, i) => html`<tr><td>${t}</td><td>${image.tag_scores[i]?.toFixed(3)}</td></tr>`)}</tbody></table>
            </div>
          </section>`
        : html`<p class="notice">Loading…</p>`}
      <section aria-label="Similar images"><h2>Similar images</h2><${Grid} results=${similar} likes=${likes} toggle=${toggle} label="Similar images" /></section>
    </main>`;
}

function HotelView({ id, likes, toggle }) {
  const [hotel, setHotel] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/v1/hotels/${enc(id)}`).then(setHotel, (e) => setError(e.message));
  }, [id]);
  return html`<${Back} />
    <main class="layout" style="grid-template-columns: 1fr">
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      ${hotel
        ? html`<section aria-label="Hotel"><h1>${hotel.hotel_name || hotel.hotel_id}</h1>
            <p>${hotel.city || ''} · ${hotel.image_count} images</p>
            <p class="tags">${hotel.tags.slice(0, 20).map((t) => html`<span class="tag">${t.tag} ${t.count}</span>`)}</p>
            <h2>Cover images</h2><${Grid} results=${hotel.cover_images} likes=${likes} toggle=${toggle} label="Cover images" /></section>`
        : html`<p class="notice">Loading…</p>`}
    </main>`;
}

function App() {
  const route = useRoute();
  const [likes, toggle] = useLikes();
  const [tags, setTags] = useState(null);
  const signedOut = config.auth && !token();
  useEffect(() => {
    if (!signedOut) api('/v1/tags').then(setTags, () => setTags({ categories: [], other: [], images: 0 }));
  }, []);
  if (signedOut) return html`<header class="bar"><strong class="brand">Vista</strong><button class="link" onClick=${signIn}>Sign in</button>${signInError ? html` <span role="alert">${signInError}</span>` : null}</header>`;
  // The search view stays mounted (hidden) so that Back finds its query and results again.
  return html`<div hidden=${route.kind !== 'search'}><${SearchView} likes=${likes} toggle=${toggle} tags=${tags} /></div>
    ${route.kind === 'image' ? html`<${ImageView} id=${route.id} likes=${likes} toggle=${toggle} />` : null}
    ${route.kind === 'hotel' ? html`<${HotelView} id=${route.id} likes=${likes} toggle=${toggle} />` : null}`;
}

const root = document.getElementById('app');
let signInError = null;
(config.auth ? completeSignIn() : Promise.resolve())
  .catch((err) => (signInError = err.message))
  .finally(() => {
    root.textContent = ''; // the static "loading…" bar, shown until this module runs
    render(html`<${App} />`, root);
  });
