/* proxy.c: http mode (placeholder until the pool lands). */
#include "watchdog.h"

struct wd_proxy *wd_proxy_new(const struct wd_config *cfg)
{
	(void)cfg;
	return NULL;
}
void wd_proxy_free(struct wd_proxy *p)
{
	(void)p;
}
bool wd_proxy_ready(struct wd_proxy *p)
{
	(void)p;
	return false;
}
int wd_px_begin(struct wd_pxreq *r, struct wd_proxy *px, const char *method, const char *target,
                const struct wd_kv *hdrs, size_t nhdrs, int64_t body_len, int64_t deadline_ms)
{
	(void)r;
	(void)px;
	(void)method;
	(void)target;
	(void)hdrs;
	(void)nhdrs;
	(void)body_len;
	(void)deadline_ms;
	return -ENOSYS;
}
int wd_px_send_body(struct wd_pxreq *r, const char *data, size_t n)
{
	(void)r;
	(void)data;
	(void)n;
	return -ENOSYS;
}
int wd_px_finish_request(struct wd_pxreq *r, const char *body, size_t len, bool can_retry)
{
	(void)r;
	(void)body;
	(void)len;
	(void)can_retry;
	return -ENOSYS;
}
size_t wd_px_headers(struct wd_pxreq *r, struct wd_kv *out, size_t max)
{
	(void)r;
	(void)out;
	(void)max;
	return 0;
}
ssize_t wd_px_read_body(struct wd_pxreq *r, char *buf, size_t max)
{
	(void)r;
	(void)buf;
	(void)max;
	return -ENOSYS;
}
void wd_px_release(struct wd_pxreq *r)
{
	(void)r;
}
