/*
 * Exact BM25 top-k with MaxScore dynamic pruning, document at a time.
 *
 * Why C: at a million passages a frequent term has hundreds of thousands of postings, and a
 * vectorized pass over all of them already costs more than the whole query budget. MaxScore
 * visits every posting of the "essential" lists only (those whose upper bounds could still
 * lift a passage into the top k) and merely looks up the rest, so frequent terms cost
 * binary searches instead of scans. Scores are computed in double from tf and the passage's
 * length norm, with rank_bm25's formula; the Python side supplies idf (epsilon floor applied)
 * and an upper bound per list.
 *
 * topk(lists, norm, k1, k) -> (passages int32 array bytes, scores float64 array bytes)
 *   lists: sequence of (docs int32 buffer, tfs uint16 buffer, idf float, weight float, ub float)
 *   norm:  float64 buffer, k1 * (1 - b + b * len / avgdl) per passage
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer docs_view, tfs_view;
    const int32_t *docs;
    const uint16_t *tfs;
    Py_ssize_t len, pos;
    double idf_w, ub;
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

static inline double contrib(const List *l, Py_ssize_t i, const double *norm, double k1) {
    double tf = (double)l->tfs[i];
    return l->idf_w * (tf * (k1 + 1.0) / (tf + norm[l->docs[i]]));
}

static int cmp_ub(const void *a, const void *b) {
    double x = ((const List *)a)->ub, y = ((const List *)b)->ub;
    return (x > y) - (x < y);
}

static int cmp_entry_best_first(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

static PyObject *topk(PyObject *self, PyObject *args) {
    PyObject *seq;
    Py_buffer norm_view;
    double k1;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "Oy*dn", &seq, &norm_view, &k1, &k)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "lists must be a sequence");
    if (!fast) { PyBuffer_Release(&norm_view); return NULL; }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(fast), got = 0, filled = 0;
    List *lists = calloc(m ? m : 1, sizeof(List));
    double *prefix = calloc(m ? m : 1, sizeof(double));
    Entry *heap = calloc(k > 0 ? k : 1, sizeof(Entry));
    PyObject *result = NULL;
    if (!lists || !prefix || !heap) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        List *l = &lists[i];
        double idf, w;
        if (!PyArg_ParseTuple(item, "y*y*ddd", &l->docs_view, &l->tfs_view, &idf, &w, &l->ub))
            goto done;
        got = i + 1;
        l->docs = l->docs_view.buf;
        l->tfs = l->tfs_view.buf;
        l->len = l->docs_view.len / (Py_ssize_t)sizeof(int32_t);
        if (l->tfs_view.len / (Py_ssize_t)sizeof(uint16_t) != l->len) {
            PyErr_SetString(PyExc_ValueError, "docs and tfs differ in length");
            goto done;
        }
        l->idf_w = idf * w;
        l->pos = 0;
    }
    const double *norm = norm_view.buf;
    Py_BEGIN_ALLOW_THREADS
    qsort(lists, m, sizeof(List), cmp_ub);
    /* Seed: when one list is much shorter than the rest, score its passages exactly first
     * (the others only looked up), so the threshold starts high instead of at zero and the
     * long lists are skipped rather than scanned. Passages holding the seed's term are then
     * final; the MaxScore pass below only considers passages without it. */
    List seed = {0};
    int seeded = 0;
    if (m >= 2 && k > 0) {
        Py_ssize_t r = 0, shortest_other = PY_SSIZE_T_MAX;
        for (Py_ssize_t i = 1; i < m; i++) if (lists[i].len < lists[r].len) r = i;
        for (Py_ssize_t i = 0; i < m; i++)
            if (i != r && lists[i].len < shortest_other) shortest_other = lists[i].len;
        if (lists[r].len * 8 <= shortest_other) {
            seed = lists[r];
            memmove(&lists[r], &lists[r + 1], (size_t)(m - r - 1) * sizeof(List));
            m -= 1;
            seeded = 1;
        }
    }
    double acc = 0;
    for (Py_ssize_t i = 0; i < m; i++) { acc += lists[i].ub; prefix[i] = acc; }
    double theta = -1.0;       /* the k-th best score once the heap is full */
    if (seeded) {
        for (Py_ssize_t s = 0; s < seed.len; s++) {
            int32_t d = seed.docs[s];
            double score = contrib(&seed, s, norm, k1);
            for (Py_ssize_t i = m - 1; i >= 0; i--) {
                if (filled == k && score + prefix[i] < theta) break;
                List *l = &lists[i];
                l->pos = seek(l, d);
                if (l->pos < l->len && l->docs[l->pos] == d) score += contrib(l, l->pos, norm, k1);
            }
            Entry cand = {score, d};
            if (filled < k) { heap[filled] = cand; sift_up(heap, filled); filled++; }
            else if (worse(&heap[0], &cand)) { heap[0] = cand; sift_down(heap, k, 0); }
            if (filled == k) theta = heap[0].score;
        }
        for (Py_ssize_t i = 0; i < m; i++) lists[i].pos = 0;
        seed.pos = 0;
    }
    Py_ssize_t e = 0;          /* lists[0..e) are non-essential */
    for (;;) {
        while (filled == k && e < m && prefix[e] < theta) e++;
        if (e >= m || k == 0) break;
        int32_t d = INT32_MAX;
        for (Py_ssize_t i = e; i < m; i++)
            if (lists[i].pos < lists[i].len && lists[i].docs[lists[i].pos] < d)
                d = lists[i].docs[lists[i].pos];
        if (d == INT32_MAX) break;
        if (seeded) {
            seed.pos = seek(&seed, d);
            if (seed.pos < seed.len && seed.docs[seed.pos] == d) {  /* scored exactly already */
                for (Py_ssize_t i = e; i < m; i++)
                    if (lists[i].pos < lists[i].len && lists[i].docs[lists[i].pos] == d)
                        lists[i].pos++;
                continue;
            }
        }
        double score = 0;
        for (Py_ssize_t i = e; i < m; i++) {
            List *l = &lists[i];
            if (l->pos < l->len && l->docs[l->pos] == d) { score += contrib(l, l->pos, norm, k1); l->pos++; }
        }
        for (Py_ssize_t i = e - 1; i >= 0; i--) {
            if (filled == k && score + prefix[i] < theta) break;
            List *l = &lists[i];
            l->pos = seek(l, d);
            if (l->pos < l->len && l->docs[l->pos] == d) score += contrib(l, l->pos, norm, k1);
        }
        Entry cand = {score, d};
        if (filled < k) {
            heap[filled] = cand; sift_up(heap, filled); filled++;
        } else if (worse(&heap[0], &cand)) {
            heap[0] = cand; sift_down(heap, k, 0);
        } else {
            continue;
        }
        if (filled == k) theta = heap[0].score;
    }
    if (seeded) { lists[m] = seed; m += 1; }  /* back in its slot: every buffer is released */
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
    for (Py_ssize_t i = 0; i < got; i++) {
        PyBuffer_Release(&lists[i].docs_view);
        PyBuffer_Release(&lists[i].tfs_view);
    }
    free(lists);
    free(prefix);
    free(heap);
    Py_DECREF(fast);
    PyBuffer_Release(&norm_view);
    return result;
}

static PyMethodDef methods[] = {
    {"topk", topk, METH_VARARGS, "Exact BM25 top-k with MaxScore pruning."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_topk", NULL, -1, methods};

PyMODINIT_FUNC PyInit__topk(void) { return PyModule_Create(&module); }
