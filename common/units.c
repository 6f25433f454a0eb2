#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Reads digits[.digits] at *p into an integer scaled by 1000 (milli-units). */
static int read_milli(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t whole = 0, frac = 0, scale = 1000;
	bool any = false;

	while (isdigit((unsigned char)*s)) {
		if (whole > (UINT64_MAX / 1000 - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*s++ - '0');
		any = true;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*s - '0') * scale;
			}
			s++;
			any = true;
		}
	}
	if (!any)
		return -EINVAL;
	*out = whole * 1000 + frac;
	*p = s;
	return 0;
}

/* The most "<n>ms" can say (read_milli's bound), so every duration formats to
 * text that parses back: about 584,000 years (found by fuzz/common_units). */
#define MAX_DURATION_MS (UINT64_MAX / 1000 / 10)

int fx_parse_duration_ms(const char *s, int64_t *out_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	const char *p = s;
	uint64_t total = 0;
	int r;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	/* A bare integer means seconds, as the classic watchdog reads it. */
	if (strspn(s, "0123456789") == strlen(s)) {
		int64_t secs;
		r = fx_parse_int(s, 0, MAX_DURATION_MS / 1000, &secs);
		if (r < 0)
			return r;
		*out_ms = secs * 1000;
		return 0;
	}
	while (*p != '\0') {
		uint64_t milli, ms = 0;
		size_t ulen = 0;

		r = read_milli(&p, &milli);
		if (r < 0)
			return r;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, l) == 0 && l > ulen) {
				/* "m" must not swallow the "m" of "ms". */
				ulen = l;
				ms = units[i].ms;
			}
		}
		if (ulen == 0)
			return -EINVAL;
		p += ulen;
		/* milli * ms / 1000 without overflowing on the way: "3895339475795m"
		 * fits in int64 ms (found by fuzz/common_units). */
		if (milli / 1000 > (uint64_t)INT64_MAX / ms)
			return -ERANGE;
		milli = milli / 1000 * ms + milli % 1000 * ms / 1000;
		if (milli > MAX_DURATION_MS || total > MAX_DURATION_MS - milli)
			return -ERANGE;
		total += milli;
	}
	*out_ms = (int64_t)total;
	return 0;
}

int fx_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
	} units[] = {
	    {"", 1},
	    {"k", 1000ULL},
	    {"K", 1000ULL},
	    {"M", 1000ULL * 1000},
	    {"G", 1000ULL * 1000 * 1000},
	    {"T", 1000ULL * 1000 * 1000 * 1000},
	    {"Ki", 1ULL << 10},
	    {"Mi", 1ULL << 20},
	    {"Gi", 1ULL << 30},
	    {"Ti", 1ULL << 40},
	};
	const char *p = s;
	uint64_t milli, v;
	char suffix[4];
	size_t slen;
	int r;

	if (s == NULL)
		return -EINVAL;
	r = read_milli(&p, &milli);
	if (r < 0)
		return r;
	slen = strlen(p);
	if (slen > 3)
		return -EINVAL;
	memcpy(suffix, p, slen + 1);
	/* Tolerate a trailing B: "16MB", "64KiB". */
	if (slen > 0 && suffix[slen - 1] == 'B')
		suffix[--slen] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(suffix, units[i].suffix) != 0)
			continue;
		if (milli / 1000 > UINT64_MAX / units[i].mul)
			return -ERANGE;
		if (milli % 1000 != 0 && milli > UINT64_MAX / units[i].mul)
			return -ERANGE;
		/* At most what a bare number can say (read_milli's bound), so every
		 * size formats to text that parses back (found by fuzz/common_units). */
		v = milli % 1000 == 0 ? milli / 1000 * units[i].mul : milli * units[i].mul / 1000;
		if (v > UINT64_MAX / 1000 / 10)
			return -ERANGE;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

int fx_parse_cpu_milli(const char *s, int64_t *out)
{
	const char *p = s;
	uint64_t milli;
	int r;

	if (s == NULL)
		return -EINVAL;
	r = read_milli(&p, &milli);
	if (r < 0)
		return r;
	if (strcmp(p, "m") == 0) {
		/* "500m" is already millicores; "0.5m" is not a thing. */
		if (milli % 1000 != 0)
			return -EINVAL;
		milli /= 1000;
	} else if (*p != '\0') {
		return -EINVAL;
	}
	if (milli > (uint64_t)INT32_MAX)
		return -ERANGE;
	*out = (int64_t)milli;
	return 0;
}

int fx_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	if (s == NULL)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int fx_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		uint64_t d = (uint64_t)(*p++ - '0');
		if (v > ((uint64_t)INT64_MAX + 1 - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p != '\0')
		return -EINVAL;
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return -ERANGE;
	int64_t x = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (x < min || x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

size_t fx_format_duration(int64_t ms, char *buf, size_t n)
{
	int len;

	if (ms < 0)
		ms = 0;
	if (ms % 1000 != 0 || ms == 0)
		len = snprintf(buf, n, "%lldms", (long long)ms);
	else if (ms % 3600000 == 0)
		len = snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		len = snprintf(buf, n, "%lldm", (long long)(ms / 60000));
	else if (ms > 60000)
		len = snprintf(buf, n, "%lldm%llds", (long long)(ms / 60000),
		               (long long)(ms % 60000 / 1000));
	else
		len = snprintf(buf, n, "%llds", (long long)(ms / 1000));
	return len < 0 ? 0 : (size_t)len;
}

size_t fx_format_size(uint64_t bytes, char *buf, size_t n)
{
	static const char *const suffix[] = {"", "Ki", "Mi", "Gi", "Ti"};
	size_t i = 0;
	int len;

	while (i < 4 && bytes != 0 && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	len = snprintf(buf, n, "%llu%s", (unsigned long long)bytes, suffix[i]);
	return len < 0 ? 0 : (size_t)len;
}
