/* diff.c: unified diff of two small texts (canonical YAML), by longest common
 * subsequence of lines. Pure. Texts past the cap diff as "all replaced". */
#include "controller.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CELLS (1u << 22) /* (n+1)*(m+1) table entries */
#define CONTEXT   3

struct lines {
	const char **p;
	size_t *len;
	size_t n;
};

static int split(const char *s, struct lines *l)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == '\n';
	l->p = calloc(cap, sizeof(*l->p));
	l->len = calloc(cap, sizeof(*l->len));
	l->n = 0;
	if (l->p == NULL || l->len == NULL)
		return -1;
	while (*s) {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		l->p[l->n] = s;
		l->len[l->n++] = len;
		s += len + (e != NULL);
	}
	return 0;
}

static bool same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* ops: ' ' keep (a,b), '-' a only, '+' b only. */
struct op {
	char kind;
	size_t ai, bi;
};

static void put_line(struct fx_buf *out, char kind, const struct lines *l, size_t i)
{
	fx_buf_append(out, &kind, 1);
	fx_buf_append(out, l->p[i], l->len[i]);
	fx_buf_puts(out, "\n");
}

char *diff_unified(const char *a, const char *b, const char *a_name, const char *b_name)
{
	struct lines la = {0}, lb = {0};
	struct op *ops = NULL;
	uint32_t *t = NULL;
	size_t nops = 0, i, j;
	struct fx_buf out;
	char *res = NULL;

	fx_buf_init(&out, 16u << 20);
	if (strcmp(a, b) == 0)
		return strdup("");
	if (split(a, &la) < 0 || split(b, &lb) < 0)
		goto done;
	ops = calloc(la.n + lb.n + 1, sizeof(*ops));
	if (ops == NULL)
		goto done;
	if ((la.n + 1) * (lb.n + 1) <= MAX_CELLS)
		t = calloc((la.n + 1) * (lb.n + 1), sizeof(*t));
	if (t != NULL) {
		size_t w = lb.n + 1;
		/* t[i][j]: LCS length of a[i..] and b[j..] */
		for (i = la.n; i-- > 0;)
			for (j = lb.n; j-- > 0;)
				t[i * w + j] = same(&la, i, &lb, j)
				                   ? t[(i + 1) * w + j + 1] + 1
				                   : (t[(i + 1) * w + j] >= t[i * w + j + 1]
				                          ? t[(i + 1) * w + j]
				                          : t[i * w + j + 1]);
		i = j = 0;
		while (i < la.n || j < lb.n) {
			if (i < la.n && j < lb.n && same(&la, i, &lb, j)) {
				ops[nops++] = (struct op){' ', i++, j++};
			} else if (i < la.n &&
			           (j == lb.n || t[(i + 1) * w + j] >= t[i * w + j + 1])) {
				ops[nops++] = (struct op){'-', i++, j};
			} else {
				ops[nops++] = (struct op){'+', i, j++};
			}
		}
	} else {
		for (i = 0; i < la.n; i++)
			ops[nops++] = (struct op){'-', i, 0};
		for (j = 0; j < lb.n; j++)
			ops[nops++] = (struct op){'+', la.n, j};
	}
	fx_buf_appendf(&out, "--- %s\n+++ %s\n", a_name, b_name);
	for (size_t k = 0; k < nops;) {
		size_t start, end, last_change;
		size_t acount = 0, bcount = 0, astart, bstart;
		if (ops[k].kind == ' ') {
			k++;
			continue;
		}
		/* A hunk: CONTEXT lines before the first change, until a run of
		 * more than 2*CONTEXT unchanged lines. */
		start = k > CONTEXT ? k - CONTEXT : 0;
		last_change = k;
		end = k;
		while (end < nops) {
			if (ops[end].kind != ' ')
				last_change = end;
			else if (end - last_change > 2 * CONTEXT)
				break;
			end++;
		}
		end = last_change + CONTEXT + 1 < nops ? last_change + CONTEXT + 1 : nops;
		astart = ops[start].ai;
		bstart = ops[start].bi;
		for (size_t x = start; x < end; x++) {
			acount += ops[x].kind != '+';
			bcount += ops[x].kind != '-';
		}
		fx_buf_appendf(&out, "@@ -%zu,%zu +%zu,%zu @@\n", acount ? astart + 1 : astart,
		               acount, bcount ? bstart + 1 : bstart, bcount);
		for (size_t x = start; x < end; x++) {
			if (ops[x].kind == '+')
				put_line(&out, '+', &lb, ops[x].bi);
			else
				put_line(&out, ops[x].kind, &la, ops[x].ai);
		}
		k = end;
	}
	res = fx_buf_detach(&out, NULL);
done:
	fx_buf_release(&out);
	free(t);
	free(ops);
	free(la.p);
	free(la.len);
	free(lb.p);
	free(lb.len);
	return res;
}
