/* client.c: HTTP calls to the gateway through common/httpc, and the one-line
 * errors users see when they fail. */
#include "faasctl.h"

#include "httpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX (64u << 20)

static void vsay(struct fctl_ctx *ctx, const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, ctx->err);
	vfprintf(ctx->err, fmt, ap);
	fputc('\n', ctx->err);
}

void fctl_errorf(struct fctl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(ctx, "error: ", fmt, ap);
	va_end(ap);
}

void fctl_warnf(struct fctl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(ctx, "warning: ", fmt, ap);
	va_end(ap);
}

int fctl_urlencode(const char *s, struct fx_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			fx_buf_append(out, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			fx_buf_append(out, e, 3);
		}
	}
	return out->data == NULL && *s ? -ENOMEM : 0;
}

static char *user_pass(const struct fctl_ctx *ctx)
{
	char *up = NULL;
	if (ctx->cfg.user == NULL || ctx->cfg.password == NULL)
		return NULL;
	if (asprintf(&up, "%s:%s", ctx->cfg.user, ctx->cfg.password) < 0)
		return NULL;
	return up;
}

static void transport_error(struct fctl_ctx *ctx, int r, const char *detail)
{
	const char *why;
	switch (r) {
	case -EKEYREJECTED:
		fctl_errorf(ctx,
		            "the gateway at %s has a TLS certificate this client does not trust "
		            "(%s): pass --ca-file FILE or set ca_file= in ~/.config/faas/config "
		            "(make up keeps its CA in ~/.config/faas/ca.pem)",
		            ctx->cfg.gateway, detail ? detail : "verification failed");
		return;
	case -EPROTO:
		fctl_errorf(ctx,
		            "no TLS handshake with the gateway at %s (%s): is it serving HTTPS on "
		            "that port?",
		            ctx->cfg.gateway, detail ? detail : "handshake failed");
		return;
	case -ECONNREFUSED:
		why = "connection refused";
		break;
	case -ETIMEDOUT:
		why = "timed out";
		break;
	case -E2BIG:
		why = "the answer is too large";
		break;
	case -ENOMEM:
		why = "out of memory";
		break;
	default:
		why = "no connection (wrong address, or DNS/network failure)";
		break;
	}
	fctl_errorf(ctx, "cannot reach the gateway at %s: %s (set --gateway or FAAS_GATEWAY)",
	            ctx->cfg.gateway, why);
}

int fctl_call(struct fctl_ctx *ctx, const char *method, const char *path, const char *body,
              size_t body_len, const char *ctype, bool auth, struct fctl_resp *resp)
{
	char *ct = NULL;
	const char *headers[3] = {"Accept: application/json", NULL, NULL};
	int r;

	if (ctype != NULL) {
		if (asprintf(&ct, "Content-Type: %s", ctype) < 0)
			return -ENOMEM;
		headers[1] = ct;
	}
	r = fctl_call_h(ctx, method, path, body, body_len, headers, auth, resp);
	free(ct);
	return r;
}

int fctl_call_h(struct fctl_ctx *ctx, const char *method, const char *path, const char *body,
                size_t body_len, const char *const *headers, bool auth, struct fctl_resp *resp)
{
	struct fx_http_req req = {0};
	struct fx_http_resp hr;
	char *url = NULL, *up = NULL, *err = NULL;
	int r;

	memset(resp, 0, sizeof(*resp));
	if (asprintf(&url, "%s%s", ctx->cfg.gateway, path) < 0)
		return -ENOMEM;
	if (auth)
		up = user_pass(ctx);
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	req.user = up;
	req.timeout_ms = ctx->timeout_ms;
	req.max_response = RESPONSE_MAX;
	req.ca_file = ctx->cfg.ca_file;
	req.insecure = ctx->cfg.insecure;
	r = fx_http_do(&req, &hr, &err);
	if (r < 0) {
		transport_error(ctx, r, err);
		goto out;
	}
	resp->status = hr.status;
	resp->result = fx_http_resp_header(&hr, "X-Faas-Result");
	resp->body = fx_buf_detach(&hr.body, &resp->len);
	resp->headers = fx_buf_detach(&hr.headers, NULL);
	if (resp->body == NULL || resp->headers == NULL) {
		r = -ENOMEM;
		fctl_errorf(ctx, "out of memory");
		fctl_resp_release(resp);
		goto out;
	}
	{
		const char *p = resp->body;
		while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			p++;
		if (*p == '{' || *p == '[') {
			struct json_tokener *tok = json_tokener_new_ex(64);
			if (tok != NULL) {
				resp->json = json_tokener_parse_ex(tok, resp->body, (int)resp->len);
				if (json_tokener_get_error(tok) != json_tokener_success) {
					json_object_put(resp->json);
					resp->json = NULL;
				}
				json_tokener_free(tok);
			}
		}
	}
out:
	fx_http_resp_release(&hr);
	free(err);
	free(url);
	if (up) {
		explicit_bzero(up, strlen(up));
		free(up);
	}
	return r;
}

int fctl_stream(struct fctl_ctx *ctx, const char *path,
                int (*on_data)(const char *, size_t, void *), void *arg, long *status)
{
	struct fx_http_req req = {0};
	struct fx_http_resp hr;
	char *url = NULL, *up = user_pass(ctx), *err = NULL;
	int r;

	if (asprintf(&url, "%s%s", ctx->cfg.gateway, path) < 0) {
		free(up);
		return -ENOMEM;
	}
	req.url = url;
	req.user = up;
	req.on_data = on_data;
	req.arg = arg;
	req.ca_file = ctx->cfg.ca_file;
	req.insecure = ctx->cfg.insecure;
	r = fx_http_do(&req, &hr, &err);
	if (r < 0)
		transport_error(ctx, r, err);
	else
		*status = hr.status;
	fx_http_resp_release(&hr);
	free(err);
	free(url);
	if (up) {
		explicit_bzero(up, strlen(up));
		free(up);
	}
	return r;
}

void fctl_resp_release(struct fctl_resp *r)
{
	if (r == NULL)
		return;
	json_object_put(r->json);
	free(r->body);
	free(r->result);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

int fctl_report_http(struct fctl_ctx *ctx, const char *what, const struct fctl_resp *r)
{
	const char *msg = r->json ? fctl_jstr(r->json, "error", NULL) : NULL;
	struct json_object *details = NULL;

	if (r->status == 401) {
		if (ctx->cfg.user == NULL || ctx->cfg.password == NULL)
			fctl_errorf(
			    ctx,
			    "%s: 401 Unauthorized: the gateway at %s needs credentials and "
			    "none were sent (%s); set FAAS_USER and FAAS_PASSWORD, --user and "
			    "--password-file, or user= and password_file= in "
			    "~/.config/faas/config",
			    what, ctx->cfg.gateway, ctx->cfg.source ? ctx->cfg.source : "");
		else
			fctl_errorf(
			    ctx,
			    "%s: 401 Unauthorized: the gateway at %s rejected the credentials "
			    "(%s); check the user and password",
			    what, ctx->cfg.gateway, ctx->cfg.source ? ctx->cfg.source : "");
		return FCTL_FAIL;
	}
	if (msg == NULL && r->body != NULL && r->len > 0) {
		/* Not our JSON: show the first line of what came back. */
		size_t n = strcspn(r->body, "\r\n");
		fctl_errorf(ctx, "%s: the server answered %ld: %.*s", what, r->status,
		            (int)(n > 300 ? 300 : n), r->body);
	} else {
		fctl_errorf(ctx, "%s: the server answered %ld: %s", what, r->status,
		            msg ? msg : "(no message)");
	}
	if (r->json && json_object_object_get_ex(r->json, "details", &details) &&
	    json_object_is_type(details, json_type_array)) {
		size_t n = json_object_array_length(details);
		for (size_t i = 0; i < n && i < 50; i++) {
			const struct json_object *d = json_object_array_get_idx(details, i);
			const char *file = fctl_jstr(d, "file", NULL);
			int64_t line = fctl_jint(d, "line", 0), col = fctl_jint(d, "column", 0);
			if (i == 0 && n == 1)
				break; /* the same as "error" */
			fprintf(ctx->err, "  ");
			if (file)
				fprintf(ctx->err, "%s:", file);
			if (line > 0)
				fprintf(ctx->err, "%lld:%lld: ", (long long)line, (long long)col);
			fprintf(ctx->err, "%s: %s\n", fctl_jstr(d, "field", "?"),
			        fctl_jstr(d, "message", "?"));
		}
	}
	return FCTL_FAIL;
}

int fctl_report_http_f(struct fctl_ctx *ctx, const struct fctl_resp *r, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fctl_report_http(ctx, what, r);
}
