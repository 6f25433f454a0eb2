/* openfaas.c: the OpenFaaS provider API's shapes and small parsers (the
 * faas-provider types: FunctionDeployment, FunctionStatus, Secret, logs
 * Message). Pure: no I/O, no logging; api.c does the calls. */
#include "controller.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* n digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int of_parse_since(const char *s, int64_t *out_sec)
{
	int64_t v = 0;
	const char *p = s;
	struct tm tm;
	int Y, M, D, h, m, sec, off = 0;
	time_t t;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return -EINVAL;
	/* Unix time in seconds (what Docker's own API takes). */
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 12)
			return -EINVAL;
		for (; *p; p++)
			v = v * 10 + (*p - '0');
		*out_sec = v;
		return 0;
	}
	/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	Y = digits(s, 4);
	M = digits(s + 5, 2);
	D = digits(s + 8, 2);
	h = digits(s + 11, 2);
	m = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 ||
	    sec < 0 || sec > 60)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 9)
			return -EINVAL;
		p += 1 + n; /* whole seconds are enough for Docker's since */
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = digits(p + 1, 2), om = p[3] == ':' ? digits(p + 4, 2) : -1;
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != D) /* 31 February and the like */
		return -EINVAL;
	v = (int64_t)t - off;
	*out_sec = v < 0 ? 0 : v;
	return 0;
}

bool of_secret_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > OF_SECRET_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}
