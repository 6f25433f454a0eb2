/* cmd_run.c: invoke, logs, completion. */
#include "faasctl.h"

#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64u << 20)

/* Reads a whole stream (bounded). Returns 0 or -errno. */
static int slurp(FILE *f, struct fx_buf *b)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		int r = fx_buf_append(b, chunk, n);
		if (r < 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}

static int read_body(struct fctl_ctx *ctx, const struct fctl_args *a, struct fx_buf *body)
{
	const char *d = fctl_opt(a, "data");
	int r = 0;

	if (d != NULL && d[0] == '@') {
		FILE *f = strcmp(d + 1, "-") == 0 ? stdin : fopen(d + 1, "rb");
		if (f == NULL) {
			fctl_errorf(ctx, "invoke: %s: %s", d + 1, strerror(errno));
			return FCTL_FAIL;
		}
		r = slurp(f, body);
		if (f != stdin)
			fclose(f);
		if (r < 0) {
			fctl_errorf(ctx, "invoke: %s: %s", d + 1,
			            r == -E2BIG ? "larger than 64 MiB" : "read error");
			return FCTL_FAIL;
		}
		return 0;
	}
	if (d != NULL)
		return fx_buf_puts(body, d) < 0 ? FCTL_FAIL : 0;
	if (fctl_flag(a, "no-stdin") || isatty(STDIN_FILENO))
		return 0;
	r = slurp(stdin, body);
	if (r < 0) {
		fctl_errorf(ctx, "invoke: stdin: %s",
		            r == -E2BIG ? "larger than 64 MiB" : "read error");
		return FCTL_FAIL;
	}
	return 0;
}

int fctl_cmd_invoke(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *name = a->pos[0], *method = fctl_opt(a, "method");
	const char *headers[FCTL_MAX_VALUES + 2];
	size_t nh = 0;
	struct fx_buf body, path;
	struct fctl_resp r;
	int rc = FCTL_FAIL;

	fx_buf_init(&body, BODY_MAX);
	fx_buf_init(&path, 64u << 10);
	fx_buf_puts(&path, "/function/");
	fctl_urlencode(name, &path);
	for (size_t i = 0; i < fctl_opt_count(a, "query"); i++) {
		const char *q = fctl_opt_nth(a, "query", i), *eq = strchr(q, '=');
		char *k = strndup(q, eq ? (size_t)(eq - q) : strlen(q));
		if (k == NULL)
			goto out;
		fx_buf_puts(&path, i == 0 ? "?" : "&");
		fctl_urlencode(k, &path);
		free(k);
		if (eq) {
			fx_buf_puts(&path, "=");
			fctl_urlencode(eq + 1, &path);
		}
	}
	for (size_t i = 0; i < fctl_opt_count(a, "header"); i++) {
		const char *h = fctl_opt_nth(a, "header", i);
		if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL) {
			fctl_errorf(ctx, "invoke: header \"%s\" is not of the form 'Name: value'",
			            h);
			rc = FCTL_USAGE;
			goto out;
		}
		headers[nh++] = h;
	}
	headers[nh] = NULL;
	if (read_body(ctx, a, &body) != 0)
		goto out;
	if (path.data == NULL)
		goto out;
	if (fctl_call_h(ctx, method ? method : "POST", path.data, body.data ? body.data : "",
	                body.len, headers, false, &r) < 0)
		goto out;
	if (fctl_flag(a, "include") && r.headers)
		fputs(r.headers, ctx->out);
	fwrite(r.body, 1, r.len, ctx->out);
	fflush(ctx->out);
	if (r.status >= 400)
		fctl_errorf(ctx, "function \"%s\" answered %ld", name, r.status);
	else
		rc = FCTL_OK;
	fctl_resp_release(&r);
out:
	fx_buf_release(&body);
	fx_buf_release(&path);
	return rc;
}

/* ---- logs ---- */

struct logstate {
	struct fctl_ctx *ctx;
	bool prefix;
	bool filter;         /* skip lines not newer than last_ns (follow by polling) */
	int64_t last_ns;     /* newest timestamp printed */
	struct fx_buf line;  /* a partial line */
	struct fx_buf other; /* lines that are not log entries (an error body) */
};

static void log_line(struct logstate *s, const char *p, size_t n)
{
	struct json_tokener *tok;
	struct json_object *o;
	const char *text;

	if (n == 0)
		return;
	tok = json_tokener_new_ex(16);
	if (tok == NULL)
		return;
	o = json_tokener_parse_ex(tok, p, (int)n);
	text = o && json_tokener_get_error(tok) == json_tokener_success ? fctl_jstr(o, "text", NULL)
	                                                                : NULL;
	if (text != NULL) {
		size_t tl = strlen(text);
		int64_t ts = fctl_time_ns(fctl_jstr(o, "timestamp", NULL));
		if (s->filter && ts >= 0 && ts <= s->last_ns)
			goto out;
		if (ts > s->last_ns)
			s->last_ns = ts;
		if (s->prefix)
			fprintf(s->ctx->out, "%s %s ", fctl_jstr(o, "timestamp", "-"),
			        fctl_jstr(o, "instance", "-"));
		fwrite(text, 1, tl, s->ctx->out);
		if (tl == 0 || text[tl - 1] != '\n')
			fputc('\n', s->ctx->out);
		fflush(s->ctx->out);
	} else {
		fx_buf_append(&s->other, p, n);
		fx_buf_puts(&s->other, "\n");
	}
out:
	json_object_put(o);
	json_tokener_free(tok);
}

static int on_log_data(const char *p, size_t n, void *arg)
{
	struct logstate *s = arg;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			log_line(s, s->line.data ? s->line.data : "", s->line.len);
			fx_buf_reset(&s->line);
		} else if (fx_buf_append(&s->line, &p[i], 1) < 0) {
			/* An over-long line: print what we have and start over. */
			log_line(s, s->line.data, s->line.len);
			fx_buf_reset(&s->line);
		}
	}
	return 0;
}

/* One request; 0, or FCTL_FAIL after printing the error. */
static int logs_once(struct fctl_ctx *ctx, const char *name, const char *path, struct logstate *s)
{
	long status = 0;

	fx_buf_reset(&s->other);
	if (fctl_stream(ctx, path, on_log_data, s, &status) < 0)
		return FCTL_FAIL;
	if (s->line.len > 0)
		log_line(s, s->line.data, s->line.len);
	fx_buf_reset(&s->line);
	if (status >= 200 && status < 300)
		return 0;
	{
		struct fctl_resp r = {.status = status, .body = s->other.data, .len = s->other.len};
		if (s->other.data)
			r.json = json_tokener_parse(s->other.data);
		if (status == 404)
			fctl_errorf(ctx, "function \"%s\" not found", name);
		else
			fctl_report_http(ctx, "logs", &r);
		json_object_put(r.json);
	}
	return FCTL_FAIL;
}

int fctl_cmd_logs(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *since = fctl_opt(a, "since"), *tail = fctl_opt(a, "tail"), *name = a->pos[0];
	struct logstate s = {.ctx = ctx, .prefix = fctl_flag(a, "prefix"), .last_ns = -1};
	bool follow = fctl_flag(a, "follow");
	struct fx_buf path, enc;
	int64_t v, since_s = -1;
	int rc = FCTL_FAIL;

	fx_buf_init(&path, 64u << 10);
	fx_buf_init(&enc, 4096);
	fx_buf_init(&s.line, 1u << 20);
	fx_buf_init(&s.other, 64u << 10);
	fctl_urlencode(name, &enc);
	fx_buf_appendf(&path, "/system/logs?name=%s", enc.data ? enc.data : "");
	if (since) {
		/* Sent as Unix seconds (docs/api.md). */
		if (fx_parse_duration_ms(since, &v) < 0) {
			fctl_errorf(ctx, "logs: --since \"%s\" is not a duration like 5m", since);
			rc = FCTL_USAGE;
			goto out;
		}
		since_s = (int64_t)time(NULL) - v / 1000;
		fx_buf_appendf(&path, "&since=%lld", (long long)since_s);
	}
	if (tail) {
		if (fx_parse_int(tail, 0, 100000, &v) < 0) {
			fctl_errorf(ctx, "logs: --tail \"%s\" is not a count from 0 to 100000",
			            tail);
			rc = FCTL_USAGE;
			goto out;
		}
		fx_buf_appendf(&path, "&tail=%lld", (long long)v);
	}
	fx_buf_appendf(&path, "&follow=%s", follow ? "true" : "false");
	if (path.data == NULL)
		goto out;
	if (follow)
		ctx->timeout_ms = 0; /* a server that streams keeps the answer open */
	rc = logs_once(ctx, name, path.data, &s);
	/* A server that answers and closes (the controller does): poll for lines
	 * newer than the last one printed, until interrupted. */
	while (follow && rc == 0) {
		int64_t from = s.last_ns >= 0 ? s.last_ns / 1000000000 : since_s;
		sleep(1);
		fx_buf_reset(&path);
		fx_buf_appendf(&path, "/system/logs?name=%s&follow=false",
		               enc.data ? enc.data : "");
		if (from < 0)
			from = (int64_t)time(NULL) - 2;
		fx_buf_appendf(&path, "&since=%lld", (long long)from);
		s.filter = true;
		ctx->timeout_ms = 60000;
		if (path.data == NULL)
			break;
		rc = logs_once(ctx, name, path.data, &s);
	}
out:
	fx_buf_release(&path);
	fx_buf_release(&enc);
	fx_buf_release(&s.line);
	fx_buf_release(&s.other);
	return rc;
}

int fctl_cmd_completion(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	struct fx_buf b;
	int rc;

	if (strcmp(a->pos[0], "bash") != 0) {
		fctl_errorf(ctx, "completion: only bash is supported");
		return FCTL_USAGE;
	}
	fx_buf_init(&b, 1u << 20);
	rc = fctl_completion_bash(fctl_cmds, fctl_ncmds, &b) < 0 ? FCTL_FAIL : FCTL_OK;
	if (b.data)
		fputs(b.data, ctx->out);
	fx_buf_release(&b);
	return rc;
}
