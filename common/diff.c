/* diff.c: the one line-based unified diff (faasctl diff and the API's
 * dry run print the same hunks), with Myers' O(ND) algorithm
 * ("An O(ND) Difference Algorithm and Its Variations", 1986), keeping one copy
 * of the V array per edit step for the backtrack. Pure; bounded inputs. */
#include "diff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_MAX_LINES 20000
#define DIFF_MAX_TRACE (32u << 20) /* ints kept for the backtrack */

struct line {
	const char *p;
	size_t len;
};

struct op {
	char kind; /* ' ', '-', '+' */
	int a, b;  /* line indexes (a for ' ' and '-', b for ' ' and '+') */
};

/* Splits text into lines (without their '\n'); a missing final newline is
 * ignored. Returns the count, or -1 when over the cap or out of memory. */
static int split(const char *text, struct line **out)
{
	int n = 0, cap = 0;
	struct line *v = NULL;
	const char *p = text ? text : "";

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (n == cap) {
			struct line *nv;
			if (cap >= DIFF_MAX_LINES) {
				free(v);
				return -1;
			}
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				return -1;
			}
			v = nv;
		}
		v[n].p = p;
		v[n++].len = len;
		p = eol ? eol + 1 : p + len;
	}
	*out = v;
	return n;
}

static bool same(const struct line *x, const struct line *y)
{
	return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Computes the edit script; *ops has n + m entries at most. */
static int myers(const struct line *a, int n, const struct line *b, int m, struct op **out,
                 int *nops)
{
	int max = n + m, off = max + 1, width = 2 * max + 3;
	int *v, *trace = NULL, d, dend = -1;
	struct op *ops;
	int x, y, k, no = 0;

	v = calloc((size_t)width, sizeof(int));
	ops = malloc(((size_t)max + 1) * sizeof(*ops));
	if (v == NULL || ops == NULL)
		goto oom;
	for (d = 0; d <= max; d++) {
		int *t;
		if ((size_t)(d + 1) * (size_t)width > DIFF_MAX_TRACE) {
			free(v);
			free(ops);
			free(trace);
			return -E2BIG;
		}
		t = realloc(trace, (size_t)(d + 1) * (size_t)width * sizeof(int));
		if (t == NULL)
			goto oom;
		trace = t;
		memcpy(trace + (size_t)d * (size_t)width, v, (size_t)width * sizeof(int));
		for (k = -d; k <= d; k += 2) {
			if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
				x = v[off + k + 1];
			else
				x = v[off + k - 1] + 1;
			y = x - k;
			while (x < n && y < m && same(&a[x], &b[y])) {
				x++;
				y++;
			}
			v[off + k] = x;
			if (x >= n && y >= m) {
				dend = d;
				goto found;
			}
		}
	}
found:
	/* Backtrack from (n, m), emitting ops in reverse. */
	x = n;
	y = m;
	for (d = dend; d >= 0; d--) {
		const int *tv = trace + (size_t)d * (size_t)width;
		int pk, px, py;
		k = x - y;
		if (d == 0) {
			while (x > 0 && y > 0) {
				ops[no++] = (struct op){' ', --x, --y};
			}
			break;
		}
		if (k == -d || (k != d && tv[off + k - 1] < tv[off + k + 1]))
			pk = k + 1;
		else
			pk = k - 1;
		px = tv[off + pk];
		py = px - pk;
		while (x > px && y > py)
			ops[no++] = (struct op){' ', --x, --y};
		if (x == px)
			ops[no++] = (struct op){'+', x, --y};
		else
			ops[no++] = (struct op){'-', --x, y};
	}
	for (int i = 0; i < no / 2; i++) {
		struct op t = ops[i];
		ops[i] = ops[no - 1 - i];
		ops[no - 1 - i] = t;
	}
	free(v);
	free(trace);
	*out = ops;
	*nops = no;
	return dend > 0 ? 1 : 0;
oom:
	free(v);
	free(ops);
	free(trace);
	return -ENOMEM;
}

static void range(struct fx_buf *out, char sign, int start, int len)
{
	/* GNU diff's conventions: "-3" for one line, "-2,0" (the line before) for none. */
	if (len == 1)
		fx_buf_appendf(out, "%c%d", sign, start + 1);
	else
		fx_buf_appendf(out, "%c%d,%d", sign, len == 0 ? start : start + 1, len);
}

int fx_diff(const char *at, const char *bt, const char *a_name, const char *b_name, int context,
            struct fx_buf *out)
{
	struct line *a = NULL, *b = NULL;
	struct op *ops = NULL;
	int n, m, nops = 0, r;

	if (context < 0)
		context = 3;
	n = split(at, &a);
	if (n < 0)
		return -E2BIG;
	m = split(bt, &b);
	if (m < 0) {
		free(a);
		return -E2BIG;
	}
	r = myers(a, n, b, m, &ops, &nops);
	if (r <= 0)
		goto out;
	fx_buf_appendf(out, "--- %s\n+++ %s\n", a_name, b_name);
	for (int i = 0; i < nops;) {
		int first, last, j, s, e, as = -1, bs = -1, al = 0, bl = 0;
		/* Next change at or after i. */
		for (first = i; first < nops && ops[first].kind == ' '; first++)
			;
		if (first == nops)
			break;
		/* Extend while the gap of equal lines to the next change is <= 2 * context. */
		last = first;
		for (j = first + 1; j < nops; j++) {
			if (ops[j].kind != ' ') {
				last = j;
				continue;
			}
			if (j - last > 2 * context)
				break;
		}
		s = first - context < i ? i : first - context;
		e = last + context >= nops ? nops - 1 : last + context;
		for (j = s; j <= e; j++) {
			if (ops[j].kind != '+') {
				if (as < 0)
					as = ops[j].a;
				al++;
			}
			if (ops[j].kind != '-') {
				if (bs < 0)
					bs = ops[j].b;
				bl++;
			}
		}
		/* An empty side starts where the other side's first op sits. */
		if (as < 0)
			as = ops[s].a;
		if (bs < 0)
			bs = ops[s].b;
		fx_buf_puts(out, "@@ ");
		range(out, '-', as, al);
		fx_buf_puts(out, " ");
		range(out, '+', bs, bl);
		fx_buf_puts(out, " @@\n");
		for (j = s; j <= e; j++) {
			const struct line *l = ops[j].kind == '+' ? &b[ops[j].b] : &a[ops[j].a];
			fx_buf_appendf(out, "%c%.*s\n", ops[j].kind, (int)l->len, l->p);
		}
		i = e + 1;
	}
	r = out->data == NULL ? -ENOMEM : 1;
out:
	free(a);
	free(b);
	free(ops);
	return r;
}
