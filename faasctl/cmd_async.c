/* cmd_async.c: `faasctl async dead-letters [NAME]` and `faasctl async replay`:
 * the dead-letter stream of asynchronous calls, through the gateway's
 * /system/async/dead-letters API (docs/api.md). */
#include "faasctl.h"

#include "units.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* "/system/async/dead-letters[/replay]?function=NAME&seq=N&limit=N" into p. */
static int dlq_path(struct fx_buf *p, bool replay, const char *name, const char *seq,
                    const char *limit)
{
	char sep = '?';
	fx_buf_puts(p, replay ? "/system/async/dead-letters/replay" : "/system/async/dead-letters");
	if (name) {
		fx_buf_appendf(p, "%cfunction=", sep);
		fctl_urlencode(name, p);
		sep = '&';
	}
	if (seq) {
		fx_buf_appendf(p, "%cseq=", sep);
		fctl_urlencode(seq, p);
		sep = '&';
	}
	if (limit) {
		fx_buf_appendf(p, "%climit=", sep);
		fctl_urlencode(limit, p);
	}
	return p->data ? 0 : -1;
}

static bool check_number(struct fctl_ctx *ctx, const char *flag, const char *v, int64_t max)
{
	int64_t n;
	if (!v || fx_parse_int(v, 1, max, &n) == 0)
		return true;
	fctl_errorf(ctx, "async: --%s: expected an integer from 1 to %lld", flag, (long long)max);
	return false;
}

int fctl_cmd_async_dead_letters(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *name = a->npos > 0 ? a->pos[0] : NULL, *o = fctl_opt(a, "output");
	const char *limit = fctl_opt(a, "limit");
	struct fctl_resp r;
	struct fx_buf p, b;
	int rc = FCTL_FAIL;

	if (o && strcmp(o, "json") != 0 && strcmp(o, "wide") != 0) {
		fctl_errorf(ctx, "async dead-letters: -o: expected json or wide");
		return FCTL_USAGE;
	}
	if (!check_number(ctx, "limit", limit, 1000))
		return FCTL_USAGE;
	fx_buf_init(&p, 4096);
	fx_buf_init(&b, 64u << 20);
	if (dlq_path(&p, false, name, NULL, limit) < 0 ||
	    fctl_call(ctx, "GET", p.data, NULL, 0, NULL, true, &r) < 0)
		goto out;
	if (r.status != 200 || !r.json || !json_object_is_type(r.json, json_type_array)) {
		if (r.status == 200)
			fctl_errorf(ctx, "async dead-letters: the gateway's answer is not a list");
		else
			fctl_report_http(ctx, "async dead-letters", &r);
		fctl_resp_release(&r);
		goto out;
	}
	if (o && strcmp(o, "json") == 0) {
		fctl_json_emit(r.json, &b);
	} else {
		int64_t now = (int64_t)time(NULL);
		size_t n = json_object_array_length(r.json);
		bool wide = o != NULL;
		if (n == 0)
			fprintf(ctx->err, "No dead letters%s%s.\n", name ? " for " : "",
			        name ? name : "");
		else
			fx_buf_appendf(&b, "%-6s %-20s %-36s %-6s %-8s %-5s %s%s\n", "SEQ",
			               "FUNCTION", "CALL-ID", "STATUS", "ATTEMPTS", "AGE", "REASON",
			               wide ? "\tPATH\tCALLBACK" : "");
		for (size_t i = 0; i < n; i++) {
			const struct json_object *it = json_object_array_get_idx(r.json, i);
			char age[32];
			fctl_age(fctl_jstr(it, "queuedAt", ""), now, age, sizeof(age));
			fx_buf_appendf(&b, "%-6lld %-20s %-36s %-6lld %-8lld %-5s %s",
			               (long long)fctl_jint(it, "seq", 0),
			               fctl_jstr(it, "function", "-"), fctl_jstr(it, "callId", "-"),
			               (long long)fctl_jint(it, "status", 0),
			               (long long)fctl_jint(it, "attempts", 0), age,
			               fctl_jstr(it, "reason", "-"));
			if (wide)
				fx_buf_appendf(&b, "\t%s\t%s", fctl_jstr(it, "path", "/"),
				               fctl_jstr(it, "callbackUrl", "-"));
			fx_buf_puts(&b, "\n");
		}
	}
	if (b.len)
		fwrite(b.data, 1, b.len, ctx->out);
	rc = FCTL_OK;
	fctl_resp_release(&r);
out:
	fx_buf_release(&p);
	fx_buf_release(&b);
	return rc;
}

int fctl_cmd_async_replay(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *name = a->npos > 0 ? a->pos[0] : NULL, *seq = fctl_opt(a, "seq");
	const char *limit = fctl_opt(a, "limit");
	struct fctl_resp r;
	struct fx_buf p;
	int rc = FCTL_FAIL;

	if (!name && !seq && !fctl_flag(a, "all")) {
		fctl_errorf(ctx, "async replay: name a function, give --seq N, or say --all");
		return FCTL_USAGE;
	}
	if (!check_number(ctx, "seq", seq, INT64_MAX) || !check_number(ctx, "limit", limit, 1000))
		return FCTL_USAGE;
	fx_buf_init(&p, 4096);
	if (dlq_path(&p, true, name, seq, limit) < 0 ||
	    fctl_call(ctx, "POST", p.data, "", 0, NULL, true, &r) < 0)
		goto out;
	if (r.status == 200 && r.json) {
		int64_t ok = fctl_jint(r.json, "replayed", 0), bad = fctl_jint(r.json, "failed", 0);
		fprintf(ctx->out, "replayed %lld dead letter%s%s%s\n", (long long)ok,
		        ok == 1 ? "" : "s", name ? " of " : "", name ? name : "");
		if (bad > 0)
			fctl_errorf(ctx, "%lld dead letter%s could not be stored again (kept)",
			            (long long)bad, bad == 1 ? "" : "s");
		rc = bad > 0 ? FCTL_FAIL : FCTL_OK;
	} else {
		fctl_report_http(ctx, "async replay", &r);
	}
	fctl_resp_release(&r);
out:
	fx_buf_release(&p);
	return rc;
}
