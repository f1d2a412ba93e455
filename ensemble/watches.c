/*
 * Watch tables, shaped like Apache's two WatchManagers (data and child) but stored once:
 * every (path, watcher) pair is one registration carrying mode bits for both tables.
 *
 *   data table:  WATCH_DATA, WATCH_EXIST, and persistent / persistent-recursive watches
 *   child table: WATCH_CHILD and persistent / persistent-recursive watches; a recursive
 *                watch is listed there (Apache 3.8.0 answers checkWatches(Children) and
 *                removeWatches(Children) for it) but never hears NodeChildrenChanged.
 *
 * Registrations hang off their path (for triggering) and off their watcher (so closing a
 * connection costs only its own watches). A recursive watch on P hears events for P and
 * every descendant: triggering walks the event path's ancestors, and only when some
 * recursive watch exists at all. A path keeps its recursive registrations at the front of
 * its list and counts them, so an ancestor holding 10,000 one-shot watches and one
 * recursive watch costs one step per event, not 10,000.
 *
 * Apache's data WatchManager keeps a watcher in watch2Paths (with an empty path set) once
 * its data watches have fired or been removed, until the connection closes; wchs counts
 * such connections and wchc lists them with no paths. A watcher's list head stays for
 * the same reason (in_data_map).
 */
#include "watches.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "zkproto.h"

/* Mode bits; each table's part of a persistent watch is removable on its own. */
enum {
	M_DATA = 1,		/* one-shot, data table (getData, exists on an existing node) */
	M_EXIST = 2,		/* one-shot, data table (exists on a missing node) */
	M_CHILD = 4,		/* one-shot, child table */
	M_PERSIST_D = 8,	/* persistent, data table part */
	M_PERSIST_C = 16,	/* persistent, child table part: hears NodeChildrenChanged */
	M_REC_D = 32,		/* recursive, data table part: hears the whole subtree */
	M_REC_C = 64,		/* recursive, child table part: answers check/removeWatches
				 * (Children) and hears NodeDeleted of the subtree, never
				 * NodeChildrenChanged (Apache's child WatchManager) */
};

#define M_DATA_TABLE (M_DATA | M_EXIST | M_PERSIST_D | M_REC_D)
#define M_CHILD_TABLE (M_CHILD | M_PERSIST_C | M_REC_C)
#define M_ONESHOT (M_DATA | M_EXIST | M_CHILD)
#define M_REC (M_REC_D | M_REC_C)

struct wpath;
struct wlist;

struct wreg {
	struct wpath *path;
	struct wlist *wl;
	struct zk_watcher *w;
	unsigned modes;
	struct wreg *pprev, *pnext;	/* registrations of the same path */
	struct wreg *wprev, *wnext;	/* registrations of the same watcher */
};

struct wpath {
	struct hmap_entry e;
	struct wreg *regs, *tail;	/* registrations with M_REC bits first */
	int64_t nrec;			/* registrations with M_REC bits */
	size_t len;
	char path[];
};

/* Per-watcher list heads live in a second table keyed by the watcher pointer. */
struct wlist {
	struct hmap_entry e;
	struct zk_watcher *w;
	struct wreg *regs;
	int in_data_map;	/* has had a data-table watch: listed by wchs/wchc */
};

struct zk_watches {
	struct hmap paths;
	struct hmap watchers;
	uint64_t k0, k1;
	int64_t nrecursive;	/* live registrations with M_REC bits */
	int64_t count;		/* watches as Apache counts them (per table) */
	uint64_t gen;		/* trigger counter, for one-event-per-watcher */
};

static uint32_t path_hash(const struct zk_watches *ws, const char *p, size_t len)
{
	return (uint32_t)hmap_hash(ws->k0, ws->k1, p, len);
}

static uint32_t ptr_hash(const struct zk_watches *ws, const struct zk_watcher *w)
{
	uintptr_t v = (uintptr_t)w;

	return (uint32_t)hmap_hash(ws->k0, ws->k1, &v, sizeof(v));
}

struct zk_watches *watches_new(void)
{
	struct zk_watches *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return NULL;
	hmap_init(&ws->paths);
	hmap_init(&ws->watchers);
	/* Keys only need to be unguessable by clients; the heap address varies per run. */
	ws->k0 = (uint64_t)(uintptr_t)ws * 0x9E3779B97F4A7C15ULL;
	ws->k1 = (uint64_t)(uintptr_t)&ws->k0 ^ 0xC2B2AE3D27D4EB4FULL;
	return ws;
}

static struct wpath *path_find(const struct zk_watches *ws, const char *p, size_t len,
			       uint32_t h)
{
	struct hmap_entry *e;

	for (e = hmap_bucket(&ws->paths, h); e; e = e->next) {
		struct wpath *wp = (struct wpath *)e;

		if (e->hash == h && wp->len == len && !memcmp(wp->path, p, len))
			return wp;
	}
	return NULL;
}

static struct wlist *wlist_find(const struct zk_watches *ws, const struct zk_watcher *w)
{
	uint32_t h = ptr_hash(ws, w);
	struct hmap_entry *e;

	for (e = hmap_bucket(&ws->watchers, h); e; e = e->next) {
		struct wlist *wl = (struct wlist *)e;

		if (e->hash == h && wl->w == w)
			return wl;
	}
	return NULL;
}

static int64_t table_count(unsigned modes)
{
	return ((modes & M_DATA_TABLE) ? 1 : 0) + ((modes & M_CHILD_TABLE) ? 1 : 0);
}

static void path_unlink(struct wpath *wp, struct wreg *r)
{
	if (r->pprev)
		r->pprev->pnext = r->pnext;
	else
		wp->regs = r->pnext;
	if (r->pnext)
		r->pnext->pprev = r->pprev;
	else
		wp->tail = r->pprev;
	r->pprev = r->pnext = NULL;
}

static void path_push_head(struct wpath *wp, struct wreg *r)
{
	r->pprev = NULL;
	r->pnext = wp->regs;
	if (wp->regs)
		wp->regs->pprev = r;
	else
		wp->tail = r;
	wp->regs = r;
}

static void path_push_tail(struct wpath *wp, struct wreg *r)
{
	r->pnext = NULL;
	r->pprev = wp->tail;
	if (wp->tail)
		wp->tail->pnext = r;
	else
		wp->regs = r;
	wp->tail = r;
}

static void wlist_free(struct zk_watches *ws, struct wlist *wl)
{
	hmap_remove(&ws->watchers, &wl->e);
	free(wl);
}

/* Sets a registration's modes, keeping the counters right. A registration left with no
 * modes is unlinked and freed (and its path with it when that was the last one); callers
 * must not touch r afterwards. */
static void reg_set_modes(struct zk_watches *ws, struct wreg *r, unsigned modes)
{
	struct wpath *wp = r->path;
	struct wlist *wl = r->wl;
	int had_rec = (r->modes & M_REC) != 0, has_rec = (modes & M_REC) != 0;

	ws->count += table_count(modes) - table_count(r->modes);
	ws->nrecursive += has_rec - had_rec;
	wp->nrec += has_rec - had_rec;
	if (has_rec && !had_rec) {
		path_unlink(wp, r);
		path_push_head(wp, r);
	} else if (had_rec && !has_rec && modes) {
		path_unlink(wp, r);
		path_push_tail(wp, r);
	}
	if (modes & M_DATA_TABLE)
		wl->in_data_map = 1;
	r->modes = modes;
	if (modes)
		return;
	path_unlink(wp, r);
	if (!wp->regs) {
		hmap_remove(&ws->paths, &wp->e);
		free(wp);
	}
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		wl->regs = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	if (!wl->regs && !wl->in_data_map)
		wlist_free(ws, wl);
	free(r);
}

int watches_add(struct zk_watches *ws, const char *path, enum watch_kind kind,
		struct zk_watcher *w)
{
	size_t len = strlen(path);
	uint32_t h = path_hash(ws, path, len);
	struct wpath *wp = path_find(ws, path, len, h);
	struct wlist *wl;
	struct wreg *r;
	unsigned bit;

	switch (kind) {
	case WATCH_DATA: bit = M_DATA; break;
	case WATCH_EXIST: bit = M_EXIST; break;
	case WATCH_CHILD: bit = M_CHILD; break;
	case WATCH_PERSISTENT: bit = M_PERSIST_D | M_PERSIST_C; break;
	case WATCH_PERSISTENT_RECURSIVE: bit = M_REC_D | M_REC_C; break;
	default: return ZBADARGUMENTS;
	}
	if (wp) {
		for (r = wp->regs; r; r = r->pnext) {
			if (r->w == w) {
				reg_set_modes(ws, r, r->modes | bit);
				return 0;
			}
		}
	}
	wl = wlist_find(ws, w);
	if (!wl) {
		wl = calloc(1, sizeof(*wl));
		if (!wl)
			return ZSYSTEMERROR;
		wl->w = w;
		if (hmap_add(&ws->watchers, &wl->e, ptr_hash(ws, w))) {
			free(wl);
			return ZSYSTEMERROR;
		}
	}
	if (!wp) {
		wp = malloc(sizeof(*wp) + len + 1);
		if (!wp)
			return ZSYSTEMERROR;
		memset(&wp->e, 0, sizeof(wp->e));
		wp->regs = wp->tail = NULL;
		wp->nrec = 0;
		wp->len = len;
		memcpy(wp->path, path, len + 1);
		if (hmap_add(&ws->paths, &wp->e, h)) {
			free(wp);
			return ZSYSTEMERROR;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		if (!wp->regs) {
			hmap_remove(&ws->paths, &wp->e);
			free(wp);
		}
		if (!wl->regs && !wl->in_data_map)
			wlist_free(ws, wl);
		return ZSYSTEMERROR;
	}
	r->path = wp;
	r->wl = wl;
	r->w = w;
	path_push_tail(wp, r);
	r->wnext = wl->regs;
	if (wl->regs)
		wl->regs->wprev = r;
	wl->regs = r;
	reg_set_modes(ws, r, bit);
	return 0;
}

/*
 * Fires one apply event. For the exact path, one-shot modes of the matching table are
 * consumed; persistent ones stay. For ancestors, only recursive watches hear it (never for
 * NodeChildrenChanged). A watcher hears an event at most once.
 */
void watches_trigger(struct zk_watches *ws, int type, const char *path,
		     watch_deliver_fn deliver, void *ctx)
{
	unsigned table, anc, hit_modes;
	size_t len = strlen(path), end;
	uint64_t gen = ++ws->gen;
	int64_t seen;
	struct wpath *wp;
	struct wreg *r, *next;

	switch (type) {
	case ZEV_CREATED:
	case ZEV_DATA_CHANGED:
		table = M_DATA_TABLE;
		anc = M_REC_D;
		break;
	case ZEV_DELETED:
		/* Apache triggers both managers; the child one's recursive part hears it too
		 * (observed after removeWatches(Data) of a recursive watch). */
		table = M_DATA_TABLE | M_CHILD_TABLE;
		anc = M_REC_D | M_REC_C;
		break;
	case ZEV_CHILDREN_CHANGED:
		table = M_CHILD | M_PERSIST_C;
		anc = 0;
		break;
	default:
		return;
	}
	wp = path_find(ws, path, len, path_hash(ws, path, len));
	for (r = wp ? wp->regs : NULL; r; r = next) {
		next = r->pnext;
		hit_modes = r->modes & table;
		if (!hit_modes)
			continue;
		r->w->mark = gen;
		deliver(ctx, r->w, type, path);
		/* One-shot modes of the tables that fired are consumed; persistent ones stay. */
		reg_set_modes(ws, r, r->modes & ~(hit_modes & M_ONESHOT));
	}
	if (!ws->nrecursive || !anc)
		return;
	/* Ancestors, nearest first: "/a/b/c" -> "/a/b", "/a", "/". */
	for (end = len; end > 1;) {
		size_t k = end;

		while (k > 0 && path[k - 1] != '/')
			k--;
		end = k > 1 ? k - 1 : 1;
		wp = path_find(ws, path, end, path_hash(ws, path, end));
		if (!wp)
			continue;
		/* Recursive registrations come first: stop after the last of them. */
		seen = 0;
		for (r = wp->regs; r && seen < wp->nrec; r = r->pnext) {
			if (!(r->modes & M_REC))
				continue;
			seen++;
			if (!(r->modes & anc) || r->w->mark == gen)
				continue;
			r->w->mark = gen;
			deliver(ctx, r->w, type, path);
		}
	}
}

static struct wreg *find_reg(struct zk_watches *ws, const char *path, struct zk_watcher *w)
{
	size_t len = strlen(path);
	struct wpath *wp = path_find(ws, path, len, path_hash(ws, path, len));
	struct wreg *r;

	for (r = wp ? wp->regs : NULL; r; r = r->pnext)
		if (r->w == w)
			return r;
	return NULL;
}

static unsigned wtype_modes(int wtype)
{
	switch (wtype) {
	case ZWT_CHILDREN: return M_CHILD_TABLE;
	case ZWT_DATA: return M_DATA_TABLE;
	case ZWT_ANY: return M_DATA_TABLE | M_CHILD_TABLE;
	}
	return 0;
}

int watches_check(struct zk_watches *ws, const char *path, int wtype, struct zk_watcher *w)
{
	struct wreg *r = find_reg(ws, path, w);

	return r && (r->modes & wtype_modes(wtype)) ? 0 : ZNOWATCHER;
}

int watches_remove(struct zk_watches *ws, const char *path, int wtype, struct zk_watcher *w)
{
	struct wreg *r = find_reg(ws, path, w);
	unsigned m = wtype_modes(wtype);

	if (!r || !(r->modes & m))
		return ZNOWATCHER;
	/* Removing from one table leaves the other table's part, as Apache's two managers. */
	reg_set_modes(ws, r, r->modes & ~m);
	return 0;
}

void watches_remove_watcher(struct zk_watches *ws, struct zk_watcher *w)
{
	struct wlist *wl;

	wl = wlist_find(ws, w);
	if (!wl)
		return;
	/* Each call frees the head of the watcher's list; in_data_map keeps wl itself alive
	 * through the last one, and it goes here. */
	wl->in_data_map = 1;
	while (wl->regs)
		reg_set_modes(ws, wl->regs, 0);
	wlist_free(ws, wl);
}

void watches_free(struct zk_watches *ws)
{
	struct hmap_iter it;
	struct hmap_entry *e;

	if (!ws)
		return;
	hmap_iter_init(&it, &ws->watchers);
	while ((e = hmap_iter_next(&it))) {
		struct wlist *wl = (struct wlist *)e;
		struct wreg *r, *next;

		for (r = wl->regs; r; r = next) {
			next = r->wnext;
			free(r);
		}
		free(wl);
	}
	hmap_iter_init(&it, &ws->paths);
	while ((e = hmap_iter_next(&it)))
		free(e);
	hmap_release(&ws->watchers);
	hmap_release(&ws->paths);
	free(ws);
}

int64_t watches_count(const struct zk_watches *ws)
{
	return ws->count;
}

/* ---- 4lw dumps: data table only, as Apache's wchs/wchc/wchp ---------------------------- */

void watches_dump_summary(const struct zk_watches *ws, FILE *out)
{
	struct hmap_iter it;
	struct hmap_entry *e;
	int64_t npaths = 0, total = 0, nconns = 0;

	hmap_iter_init(&it, &ws->paths);
	while ((e = hmap_iter_next(&it))) {
		struct wpath *wp = (struct wpath *)e;
		struct wreg *r;
		int any = 0;

		for (r = wp->regs; r; r = r->pnext) {
			if (r->modes & M_DATA_TABLE) {
				total++;
				any = 1;
			}
		}
		npaths += any;
	}
	hmap_iter_init(&it, &ws->watchers);
	while ((e = hmap_iter_next(&it))) {
		const struct wlist *wl = (const struct wlist *)e;

		nconns += wl->in_data_map;
	}
	fprintf(out, "%lld connections watching %lld paths\nTotal watches:%lld\n",
		(long long)nconns, (long long)npaths, (long long)total);
}

void watches_dump_by_session(const struct zk_watches *ws, FILE *out)
{
	struct hmap_iter it;
	struct hmap_entry *e;

	hmap_iter_init(&it, &ws->watchers);
	while ((e = hmap_iter_next(&it))) {
		struct wlist *wl = (struct wlist *)e;
		struct wreg *r;

		if (!wl->in_data_map)
			continue;
		fprintf(out, "0x%llx\n", (unsigned long long)wl->w->session_id);
		for (r = wl->regs; r; r = r->wnext)
			if (r->modes & M_DATA_TABLE)
				fprintf(out, "\t%s\n", r->path->path);
	}
	fputs("\n", out);
}

/* Java's HashMap<String, ...> iteration order for n keys (default capacity, load 0.75),
 * so wchp lists paths in the order Apache does; ties (same bin) by name. */
static uint32_t java_bin(const char *str, uint32_t cap)
{
	uint32_t h = 0;

	for (; *str; str++)
		h = 31 * h + (unsigned char)*str;
	return (h ^ (h >> 16)) & (cap - 1);
}

static int java_order(const void *a, const void *b, void *arg)
{
	const struct wpath *x = *(struct wpath *const *)a, *y = *(struct wpath *const *)b;
	uint32_t cap = *(const uint32_t *)arg;
	uint32_t bx = java_bin(x->path, cap), by = java_bin(y->path, cap);

	if (bx != by)
		return bx < by ? -1 : 1;
	return strcmp(x->path, y->path);
}

void watches_dump_by_path(const struct zk_watches *ws, FILE *out)
{
	struct hmap_iter it;
	struct hmap_entry *e;
	struct wpath **v = NULL;
	size_t n = 0, i;
	uint32_t java_cap;

	v = malloc(sizeof(*v) * (ws->paths.n + 1));
	if (!v)
		return;
	hmap_iter_init(&it, &ws->paths);
	while ((e = hmap_iter_next(&it))) {
		struct wpath *wp = (struct wpath *)e;
		struct wreg *r;

		for (r = wp->regs; r; r = r->pnext)
			if (r->modes & M_DATA_TABLE)
				break;
		if (r)
			v[n++] = wp;
	}
	for (java_cap = 16; n > java_cap * 3 / 4; java_cap *= 2)
		;
	qsort_r(v, n, sizeof(*v), java_order, &java_cap);
	for (i = 0; i < n; i++) {
		struct wreg *r;

		fprintf(out, "%s\n", v[i]->path);
		for (r = v[i]->regs; r; r = r->pnext)
			if (r->modes & M_DATA_TABLE)
				fprintf(out, "\t0x%llx\n", (unsigned long long)r->w->session_id);
	}
	free(v);
	fputs("\n", out);
}
