/*
 * Exact BM25 top-k with block-max MaxScore dynamic pruning, document at a time.
 *
 * Why C: at a million passages a frequent term has hundreds of thousands of postings, and a
 * vectorized pass over all of them already costs more than the whole query budget. MaxScore
 * visits every posting of the "essential" lists only (those whose upper bounds could still
 * lift a passage into the top k) and merely looks up the rest, so frequent terms cost
 * binary searches instead of scans. Scores are computed in double from tf and the passage's
 * length norm, with rank_bm25's formula; the Python side supplies idf (epsilon floor applied)
 * and an upper bound per list.
 *
 * Why block-max: one bound per list is set by its best posting anywhere, so a frequent term
 * looks as strong in every stretch of passages as at its one outlier. With a bound per block
 * of 128 postings, passages are visited in windows; in each, the lists are split into
 * essential and not by the bounds of their blocks there, and a window whose bounds cannot
 * reach the k-th best score is skipped without reading its postings.
 *
 * Why seeds first: the selective terms of a query (lists 8x shorter than all the others) are
 * scored exhaustively before anything else, so the k-th best score is high from the start
 * instead of growing slowly across the whole passage range.
 *
 * topk(lists, norm, k1, k[, threshold]) -> (passages int32 array bytes, scores float64 bytes)
 *   lists: sequence of (docs int32 buffer, tfs uint16 buffer, idf float, weight float, ub float)
 *          or (docs, tfs, idf, weight, ub, block_max float32 buffer, block_scale float):
 *          block j covers docs[j*128:(j+1)*128] and no contribution there exceeds
 *          block_max[j] * block_scale (a little slack is added here, as for ub); without
 *          them every block is bounded by ub.
 *   norm:  float64 buffer, k1 * (1 - b + b * len / avgdl) per passage
 *   threshold: None, or only passages scoring strictly more are returned (possibly fewer
 *          than k): the caller already holds results down to that score.
 * Passages come best first, ties by lower passage number. A passage's score is the sum of
 * idf * weight * tf-part over `lists` in their order, whatever path found it, so passages
 * with equal postings get bit-equal scores and the results do not depend on the pruning.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 128

typedef struct {
    const int32_t *docs;       /* what the inner loops touch first, in one cache line */
    const uint16_t *tfs;
    Py_ssize_t len, pos;
    double idf_w;
    Py_ssize_t slot;           /* position in the caller's sequence */
    int has_bm, fine;          /* fine: its blocks bound the current window */
    const float *bm;
    Py_ssize_t nblocks, blk;
    int64_t span;              /* passages a block covers, on average */
    double ub, bscale;
    Py_buffer docs_view, tfs_view, bm_view;
} List;

typedef struct {
    double score;
    int32_t doc;
} Entry;

/* "a is worse than b": lower score, or equal score and a later passage. */
static inline int worse(const Entry *a, const Entry *b) {
    return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}

static void sift_down(Entry *h, Py_ssize_t n, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        Entry t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

static void sift_up(Entry *h, Py_ssize_t i) {
    while (i > 0) {
        Py_ssize_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p])) return;
        Entry t = h[i]; h[i] = h[p]; h[p] = t;
        i = p;
    }
}

/* First position >= pos whose doc >= target (galloping, then binary search). */
static Py_ssize_t seek(const List *l, int32_t target) {
    Py_ssize_t lo = l->pos, step = 1, hi;
    if (lo >= l->len || l->docs[lo] >= target) return lo;
    hi = lo + 1;
    while (hi < l->len && l->docs[hi] < target) { lo = hi; step <<= 1; hi = lo + step; }
    if (hi > l->len) hi = l->len;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (l->docs[mid] < target) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static inline int32_t block_last(const List *l, Py_ssize_t j) {
    Py_ssize_t end = (j + 1) * BLOCK;
    return l->docs[(end < l->len ? end : l->len) - 1];
}

static Py_ssize_t seek_block_far(const List *l, int32_t target) {
    Py_ssize_t lo = l->blk, step = 1, hi = lo + 1;
    while (hi < l->nblocks && block_last(l, hi) < target) { lo = hi; step <<= 1; hi = lo + step; }
    if (hi > l->nblocks) hi = l->nblocks;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (block_last(l, mid) < target) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* First block >= blk whose last doc >= target, nblocks when none (seek over block ends). */
static inline Py_ssize_t seek_block(const List *l, int32_t target) {
    if (l->blk >= l->nblocks || block_last(l, l->blk) >= target) return l->blk;
    return seek_block_far(l, target);
}

/* A block's float32 maximum as a bound in score units, with the same relative slack as the
 * Python side's ub (a float32 times a double scale must never undercut the exact double). */
static inline double scaled(const List *l, float block_max) {
    double b = (double)block_max * l->bscale * (1.0 + 1e-5) + 1e-9;
    return b < l->ub ? b : l->ub;
}

/* Bound of l's postings from its cursor up to doc `to`, once l->blk is the block holding the
 * first doc of the range: 0 when it has none there, else the largest bound of their blocks. */
static inline double range_bound(const List *l, int32_t to) {
    if (l->blk >= l->nblocks) return 0.0;
    Py_ssize_t p = l->blk * BLOCK;
    if (l->pos > p) p = l->pos;
    if (p >= l->len || l->docs[p] > to) return 0.0;
    if (!l->has_bm) return l->ub;
    float best = l->bm[p / BLOCK];
    Py_ssize_t stop = p / BLOCK + 9;   /* over more blocks than that the max is about ub */
    for (Py_ssize_t j = p / BLOCK + 1; j < l->nblocks && l->docs[j * BLOCK] <= to; j++) {
        if (j == stop) return l->ub;
        if (l->bm[j] > best) best = l->bm[j];
    }
    return scaled(l, best);
}

/* Moves l to its first posting >= d. */
static inline void advance(List *l, int32_t d) {
    l->blk = seek_block(l, d);
    if (l->blk >= l->nblocks) { l->pos = l->len; return; }
    if (l->pos < l->blk * BLOCK) l->pos = l->blk * BLOCK;
    l->pos = seek(l, d);
}

/* Moves l to its first posting >= d; whether it is d. The block cursor is not moved: it
 * only ever trails (every use of it tolerates that), and galloping over postings from the
 * later of the two cursors finds d at least as fast as first seeking its block. */
static inline int lookup(List *l, int32_t d) {
    if (l->pos < l->blk * BLOCK) l->pos = l->blk * BLOCK;
    l->pos = seek(l, d);
    return l->pos < l->len && l->docs[l->pos] == d;
}

static inline double contrib(const List *l, Py_ssize_t i, const double *norm, double k1) {
    double tf = (double)l->tfs[i];
    return l->idf_w * (tf * (k1 + 1.0) / (tf + norm[l->docs[i]]));
}

/* Whether some seed list holds d (their cursors only move forward). */
static inline int in_seeds(List *seeds, Py_ssize_t n, int32_t d) {
    for (Py_ssize_t i = 0; i < n; i++) {
        List *l = &seeds[i];
        l->pos = seek(l, d);
        if (l->pos < l->len && l->docs[l->pos] == d) return 1;
    }
    return 0;
}

/* Which lists to leave non-essential: any set whose bounds sum below theta keeps pruning
 * exact, and the cheapest to leave out of the scan are those with the least bound per posting
 * (Lucene's MaxScore orders them so too), i.e. long lists of low-idf terms first. */
static inline double per_posting(double bound, const List *l) {
    return bound / (double)(l->len + 1);
}

static int cmp_per_posting(const void *a, const void *b) {
    const List *p = a, *q = b;
    double x = per_posting(p->ub, p), y = per_posting(q->ub, q);
    return (x > y) - (x < y);
}

/* Bounds of lists[0..m) up to doc `to`, their block cursors holding the window's first doc:
 * into ol and wb, least bound per posting first. */
static void order_window(List *lists, Py_ssize_t m, int32_t to, List **ol, double *wb,
                         double *wk) {
    for (Py_ssize_t i = 0; i < m; i++) {     /* insertion sort: a handful */
        double b = lists[i].fine ? range_bound(&lists[i], to) : lists[i].ub;
        double key = per_posting(b, &lists[i]);
        Py_ssize_t j = i;
        while (j > 0 && wk[j - 1] > key) {
            wb[j] = wb[j - 1];
            wk[j] = wk[j - 1];
            ol[j] = ol[j - 1];
            j--;
        }
        wb[j] = b;
        wk[j] = key;
        ol[j] = &lists[i];
    }
}

/* Where a window starting at ws ends: at the nearest block end of the fine lists of
 * lists[0..m) (their block cursors holding ws), but no sooner than `least` passages on. */
static int32_t window_end(const List *lists, Py_ssize_t m, int32_t ws, int64_t least) {
    int64_t end = INT32_MAX;
    for (Py_ssize_t i = 0; i < m; i++) {
        const List *l = &lists[i];
        if (l->fine && l->blk < l->nblocks && block_last(l, l->blk) < end)
            end = block_last(l, l->blk);
    }
    if (end < (int64_t)ws + least) end = (int64_t)ws + least;
    return end < INT32_MAX ? (int32_t)end : INT32_MAX;
}

static int cmp_entry_best_first(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* What scoring one candidate needs besides the lists. */
typedef struct {
    const double *norm;
    double k1;
    double *cv;                /* contributions by slot, valid where seen[slot] == now */
    Py_ssize_t *seen, now;
    Py_ssize_t slots;
} Scratch;

static inline void record(Scratch *sc, Py_ssize_t slot, double c) {
    sc->cv[slot] = c;
    sc->seen[slot] = sc->now;
}

/* Completes candidate d, whose essential part is *score, from the non-essential lists
 * ls[0..n) with bounds bound[0..n) summing to sums[0..n), looked up from the last (the most
 * bound per posting) down, until what is left cannot lift d above theta: then 0.
 * (Bounding each list by the block that would hold d first was measured: finding that block
 * costs about what the lookup does, and it pruned too rarely to pay.) */
static int complete(List *const *ls, const double *bound, const double *sums, Py_ssize_t n,
                    int32_t d, double *score, double theta, Scratch *sc) {
    for (Py_ssize_t j = n - 1; j >= 0; j--) {
        if (*score + sums[j] < theta) return 0;
        List *l = ls[j];
        if (bound[j] > 0 && lookup(l, d)) {
            double c = contrib(l, l->pos, sc->norm, sc->k1);
            record(sc, l->slot, c);
            *score += c;
        }
    }
    return 1;
}

/* The score summed in the caller's order of lists, whatever path found the contributions, so
 * that equal passages get bit-equal scores. */
static inline double in_order(const Scratch *sc) {
    double score = 0;
    for (Py_ssize_t i = 0; i < sc->slots; i++)
        if (sc->seen[i] == sc->now) score += sc->cv[i];
    return score;
}

/* One query's top k so far and the room its passes work in. */
typedef struct {
    Entry *heap;
    Py_ssize_t k, filled;
    double theta;              /* a passage must score above it: the k-th best so far */
    Scratch sc;
    List **ol;                 /* a window's lists, least bound per posting first */
    double *prefix, *wb, *wk, *pw; /* sums of ubs; a window's bounds, their keys, their sums */
    int64_t n_passages;
} State;

/* Keeps cand if it belongs in the top k, raising theta once there are k. */
static void offer(State *st, Entry cand) {
    if (st->filled < st->k) {
        if (!(cand.score > st->theta)) return;
        st->heap[st->filled] = cand;
        sift_up(st->heap, st->filled);
        st->filled++;
    } else if (worse(&st->heap[0], &cand)) {
        st->heap[0] = cand;
        sift_down(st->heap, st->k, 0);
    } else {
        return;
    }
    if (st->filled == st->k) st->theta = st->heap[0].score;
}

/* Windowed MaxScore: scores every passage that some of lists[pinned..n) hold and no seed does,
 * or shows that it cannot beat theta. lists[0..pinned) are only ever looked up (their other
 * passages are another pass's). Each of the two groups comes least ub per posting first.
 *
 * A window [ws, we] starts at the next passage of a list that is essential by its ub (no
 * passage before it can make the top k) and spans about 16 candidates and at least 32
 * passages per essential list (Lucene's MaxScore sizes its windows similarly: tiny ones cost
 * more in bounds than they save), or up to the nearest block end of a list whose blocks are
 * that long. In a window the lists are split into essential and not by the bounds of their
 * blocks there. */
static void pass(List *lists, Py_ssize_t pinned, Py_ssize_t n, List *seeds,
                 Py_ssize_t n_seeds, State *st) {
    Scratch *sc = &st->sc;
    List **ol = st->ol;
    double *wb = st->wb, *pw = st->pw, acc = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        acc += lists[i].ub;
        st->prefix[i] = acc;
        lists[i].span = st->n_passages * BLOCK / (lists[i].len + 1);
    }
    const double total = acc;
    int32_t ws = 0;
    Py_ssize_t eg = pinned;    /* lists[0..eg) cannot lift a passage above theta by themselves */
    while (st->k > 0) {
        while (eg < n && st->prefix[eg] < st->theta) eg++;
        if (eg >= n) break;
        int32_t first = INT32_MAX;
        int64_t left = 0;
        for (Py_ssize_t i = eg; i < n; i++) {
            List *l = &lists[i];
            advance(l, ws);
            left += l->len - l->pos;
            if (l->pos < l->len && l->docs[l->pos] < first) first = l->docs[l->pos];
        }
        if (first == INT32_MAX) break;
        ws = first;
        int64_t least = 32 * (n - eg), spread = 16 * (st->n_passages - ws) / (left ? left : 1);
        if (spread > least) least = spread;
        /* A list whose blocks are much shorter than the window is bounded by its ub there:
         * the max over many blocks is about that, and finding them would cost reads. So is
         * one that weighs little next to the rest (an idf near 0): its blocks would only cut
         * windows short. */
        for (Py_ssize_t i = 0; i < n; i++) {
            List *l = &lists[i];
            l->fine = l->has_bm && 4 * l->span >= least && l->ub * 8 >= total;
            if (l->fine && i < eg) l->blk = seek_block(l, ws);
        }
        int32_t we = window_end(lists, n, ws, least);
        order_window(lists, pinned, we, ol, wb, st->wk);
        order_window(lists + pinned, n - pinned, we, ol + pinned, wb + pinned, st->wk + pinned);
        acc = 0;
        for (Py_ssize_t i = 0; i < n; i++) { acc += wb[i]; pw[i] = acc; }
        Py_ssize_t e = pinned; /* ol[0..e) are non-essential in this window */
        while (e < n && pw[e] < st->theta) e++;
        for (Py_ssize_t j = e; j < n; j++) advance(ol[j], ws);
        while (e == n - 1) {   /* one essential list, the common case: walk it */
            List *l = ol[e];
            if (l->pos >= l->len || l->docs[l->pos] > we) break;
            int32_t d = l->docs[l->pos];
            if (n_seeds && in_seeds(seeds, n_seeds, d)) { l->pos++; continue; }
            double score = contrib(l, l->pos, sc->norm, sc->k1);
            l->pos++;
            if (e > 0 && score + pw[e - 1] < st->theta) continue;
            sc->now++;
            record(sc, l->slot, score);
            if (!complete(ol, wb, pw, e, d, &score, st->theta, sc)) continue;
            offer(st, (Entry){in_order(sc), d});
            while (e < n && pw[e] < st->theta) e++;
        }
        while (e < n) {
            int32_t d = INT32_MAX;
            for (Py_ssize_t j = e; j < n; j++) {
                const List *l = ol[j];
                if (l->pos < l->len && l->docs[l->pos] < d) d = l->docs[l->pos];
            }
            if (d > we || d == INT32_MAX) break;
            if (n_seeds && in_seeds(seeds, n_seeds, d)) {      /* scored already */
                for (Py_ssize_t j = e; j < n; j++) {
                    List *l = ol[j];
                    if (l->pos < l->len && l->docs[l->pos] == d) l->pos++;
                }
                continue;
            }
            double score = 0;
            sc->now++;
            for (Py_ssize_t j = e; j < n; j++) {
                List *l = ol[j];
                if (l->pos < l->len && l->docs[l->pos] == d) {
                    double c = contrib(l, l->pos, sc->norm, sc->k1);
                    record(sc, l->slot, c);
                    score += c;
                    l->pos++;
                }
            }
            if (e > 0 && score + pw[e - 1] < st->theta) continue;
            if (!complete(ol, wb, pw, e, d, &score, st->theta, sc)) continue;
            offer(st, (Entry){in_order(sc), d});
            while (e < n && pw[e] < st->theta) e++;
        }
        if (we == INT32_MAX) break;
        ws = we + 1;
    }
    for (Py_ssize_t i = 0; i < n; i++) { lists[i].pos = 0; lists[i].blk = 0; }
}

static int parse_list(PyObject *item, List *l) {
    double idf, w;
    if (!PyTuple_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "each list must be a tuple");
        return -1;
    }
    l->bscale = 0.0;
    if (!PyArg_ParseTuple(item, "y*y*ddd|y*d", &l->docs_view, &l->tfs_view, &idf, &w, &l->ub,
                          &l->bm_view, &l->bscale))
        return -1;
    l->has_bm = PyTuple_GET_SIZE(item) > 5;
    l->docs = l->docs_view.buf;
    l->tfs = l->tfs_view.buf;
    l->len = l->docs_view.len / (Py_ssize_t)sizeof(int32_t);
    l->nblocks = (l->len + BLOCK - 1) / BLOCK;
    l->idf_w = idf * w;
    if (l->tfs_view.len / (Py_ssize_t)sizeof(uint16_t) != l->len) {
        PyErr_SetString(PyExc_ValueError, "docs and tfs differ in length");
        return 1;
    }
    if (l->has_bm) {
        if (PyTuple_GET_SIZE(item) != 7) {
            PyErr_SetString(PyExc_TypeError, "block_max needs block_scale");
            return 1;
        }
        if (l->bm_view.len != l->nblocks * (Py_ssize_t)sizeof(float)) {
            PyErr_SetString(PyExc_ValueError, "block_max needs one float32 per 128 postings");
            return 1;
        }
        l->bm = l->bm_view.buf;
        l->bscale = fabs(l->bscale);
    }
    return 0;
}

static void release_list(List *l) {
    PyBuffer_Release(&l->docs_view);
    PyBuffer_Release(&l->tfs_view);
    if (l->has_bm) PyBuffer_Release(&l->bm_view);
}

static PyObject *topk(PyObject *self, PyObject *args) {
    PyObject *seq, *thr_obj = Py_None;
    Py_buffer norm_view;
    double k1, theta = -INFINITY;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "Oy*dn|O", &seq, &norm_view, &k1, &k, &thr_obj)) return NULL;
    if (thr_obj != Py_None) {
        theta = PyFloat_AsDouble(thr_obj);
        if (theta == -1.0 && PyErr_Occurred()) { PyBuffer_Release(&norm_view); return NULL; }
    }
    PyObject *fast = PySequence_Fast(seq, "lists must be a sequence");
    if (!fast) { PyBuffer_Release(&norm_view); return NULL; }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(fast), got = 0, filled = 0;
    size_t mm = (size_t)(m ? m : 1);
    List *lists = calloc(mm, sizeof(List));
    List **ol = calloc(mm, sizeof(List *));      /* lists, least bound per posting first */
    double *prefix = calloc(mm, sizeof(double));  /* sums of the ubs */
    double *wb = calloc(mm, sizeof(double));      /* bounds in a window, in ol's order */
    double *pw = calloc(mm, sizeof(double));      /* their sums */
    double *wk = calloc(mm, sizeof(double));      /* their order */
    double *cv = calloc(mm, sizeof(double));
    Py_ssize_t *seen = calloc(mm, sizeof(Py_ssize_t));
    Py_ssize_t *lens = calloc(mm, sizeof(Py_ssize_t));
    List *spare = calloc(mm, sizeof(List));
    Entry *heap = calloc(k > 0 ? (size_t)k : 1, sizeof(Entry));
    PyObject *result = NULL;
    if (!lists || !ol || !prefix || !wb || !pw || !wk || !cv || !seen || !lens || !spare || !heap) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        int rc = parse_list(PySequence_Fast_GET_ITEM(fast, i), &lists[i]);
        if (rc < 0) goto done;      /* nothing of this item is held */
        got = i + 1;
        if (rc > 0) goto done;
        lists[i].slot = i;
    }
    State st = {heap, k > 0 ? k : 0, 0, theta, {norm_view.buf, k1, cv, seen, 0, m}, ol, prefix,
                wb, wk, pw, norm_view.len / (Py_ssize_t)sizeof(double)};
    Py_BEGIN_ALLOW_THREADS
    qsort(lists, m, sizeof(List), cmp_per_posting);
    /* Seeds: when some lists are much shorter than all the others (the query's selective
     * terms), the passages they hold are settled first, the others only looked up, so theta
     * starts high instead of at zero and the long lists are skipped rather than scanned. The
     * second pass then only considers passages without any seed term. The seeds are moved
     * behind the other lists: lists[rest..m). */
    Py_ssize_t rest = m;
    if (k > 0 && m >= 2) {
        Py_ssize_t n = 0, cut = 0;
        for (Py_ssize_t i = 0; i < m; i++) {     /* non-empty lengths, ascending */
            Py_ssize_t len = lists[i].len, j = n;
            if (len == 0) continue;
            while (j > 0 && lens[j - 1] > len) { lens[j] = lens[j - 1]; j--; }
            lens[j] = len;
            n++;
        }
        for (Py_ssize_t i = 1; i < n && !cut; i++)
            if (lens[i - 1] * 8 <= lens[i]) cut = lens[i - 1];
        if (cut) {
            Py_ssize_t short_ones = 0;
            rest = 0;
            for (Py_ssize_t i = 0; i < m; i++) {
                if (lists[i].len > 0 && lists[i].len <= cut) spare[short_ones++] = lists[i];
                else lists[rest++] = lists[i];
            }
            memcpy(&lists[rest], spare, (size_t)short_ones * sizeof(List));
        }
    }
    if (rest < m) pass(lists, rest, m, NULL, 0, &st);
    pass(lists, 0, rest, &lists[rest], m - rest, &st);
    filled = st.filled;
    qsort(heap, filled, sizeof(Entry), cmp_entry_best_first);
    Py_END_ALLOW_THREADS
    {
        PyObject *docs = PyBytes_FromStringAndSize(NULL, filled * (Py_ssize_t)sizeof(int32_t));
        PyObject *scores = PyBytes_FromStringAndSize(NULL, filled * (Py_ssize_t)sizeof(double));
        if (docs && scores) {
            int32_t *dp = (int32_t *)PyBytes_AS_STRING(docs);
            double *sp = (double *)PyBytes_AS_STRING(scores);
            for (Py_ssize_t i = 0; i < filled; i++) { dp[i] = heap[i].doc; sp[i] = heap[i].score; }
            result = PyTuple_Pack(2, docs, scores);
        }
        Py_XDECREF(docs);
        Py_XDECREF(scores);
    }
done:
    for (Py_ssize_t i = 0; i < got; i++) release_list(&lists[i]);
    free(lists);
    free(ol);
    free(prefix);
    free(wb);
    free(pw);
    free(wk);
    free(cv);
    free(seen);
    free(lens);
    free(spare);
    free(heap);
    Py_DECREF(fast);
    PyBuffer_Release(&norm_view);
    return result;
}

static PyMethodDef methods[] = {
    {"topk", topk, METH_VARARGS, "Exact BM25 top-k with block-max MaxScore pruning."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_topk", NULL, -1, methods};

PyMODINIT_FUNC PyInit__topk(void) { return PyModule_Create(&module); }
