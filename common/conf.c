#include "conf.h"
#include "buf.h"

#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *expected(enum fx_conf_type t)
{
	switch (t) {
	case FX_CONF_INT:
		return "an integer";
	case FX_CONF_BOOL:
		return "true or false";
	case FX_CONF_DURATION:
		return "a duration like 500ms, 10s or 1m (a bare number is seconds)";
	case FX_CONF_SIZE:
		return "a size like 1048576, 512Ki or 16Mi";
	case FX_CONF_STRING:
		break;
	}
	return "a string";
}

static int set_value(const struct fx_setting *s, const char *v, const char *origin, char **err)
{
	bool bounded = s->min != 0 || s->max != 0;
	int64_t i = 0;
	uint64_t u = 0;
	bool b;
	int r = 0;

	switch (s->type) {
	case FX_CONF_STRING:
		*(const char **)s->target = v;
		return 0;
	case FX_CONF_BOOL:
		r = fx_parse_bool(v, &b);
		if (r == 0)
			*(bool *)s->target = b;
		break;
	case FX_CONF_INT:
		r = fx_parse_int(v, bounded ? s->min : INT64_MIN, bounded ? s->max : INT64_MAX, &i);
		if (r == 0)
			*(int64_t *)s->target = i;
		break;
	case FX_CONF_DURATION:
		r = fx_parse_duration_ms(v, &i);
		if (r == 0 && bounded && (i < s->min || i > s->max))
			r = -ERANGE;
		if (r == 0)
			*(int64_t *)s->target = i;
		break;
	case FX_CONF_SIZE:
		r = fx_parse_size(v, &u);
		if (r == 0 && bounded && (u < (uint64_t)s->min || u > (uint64_t)s->max))
			r = -ERANGE;
		if (r == 0)
			*(uint64_t *)s->target = u;
		break;
	}
	if (r == 0)
		return 0;
	if (r == -ERANGE && bounded) {
		if (s->type == FX_CONF_DURATION) {
			char lo[32], hi[32];
			fx_format_duration(s->min, lo, sizeof(lo));
			fx_format_duration(s->max, hi, sizeof(hi));
			*err = fx_strdupf("%s (%s): \"%s\" is out of range, expected %s to %s",
			                  s->name, origin, v, lo, hi);
		} else if (s->type == FX_CONF_SIZE) {
			char lo[32], hi[32];
			fx_format_size((uint64_t)s->min, lo, sizeof(lo));
			fx_format_size((uint64_t)s->max, hi, sizeof(hi));
			*err = fx_strdupf("%s (%s): \"%s\" is out of range, expected %s to %s",
			                  s->name, origin, v, lo, hi);
		} else {
			*err = fx_strdupf("%s (%s): \"%s\" is out of range, expected %lld to %lld",
			                  s->name, origin, v, (long long)s->min, (long long)s->max);
		}
	} else {
		*err = fx_strdupf("%s (%s): invalid value \"%s\", expected %s", s->name, origin,
		                  (s->flags & FX_CONF_SECRET) ? "***" : v, expected(s->type));
	}
	return -EINVAL;
}

/* Matches "--read-timeout" or "--read_timeout" (given without the dashes). */
static bool flag_matches(const char *name, const char *flag, size_t flen)
{
	size_t i;

	for (i = 0; i < flen && name[i] != '\0'; i++) {
		char c = flag[i] == '-' ? '_' : flag[i];
		if (tolower((unsigned char)c) != tolower((unsigned char)name[i]))
			return false;
	}
	return i == flen && name[i] == '\0';
}

int fx_conf_load(const struct fx_setting *tab, size_t n, int argc, char *const *argv, int *rest,
                 char **err)
{
	int i;

	*err = NULL;
	for (size_t k = 0; k < n; k++) {
		const struct fx_setting *s = &tab[k];
		if (s->type == FX_CONF_STRING)
			*(const char **)s->target = s->def;
		else if (s->def != NULL && set_value(s, s->def, "default", err) < 0)
			return -EINVAL;
		else if (s->def == NULL && s->type == FX_CONF_BOOL)
			*(bool *)s->target = false;
	}
	for (size_t k = 0; k < n; k++) {
		const struct fx_setting *s = &tab[k];
		const char *v = (s->flags & FX_CONF_NO_ENV) ? NULL : getenv(s->name);
		if (v != NULL && set_value(s, v, "environment", err) < 0)
			return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct fx_setting *s = NULL;
		size_t flen;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (rest != NULL)
				break;
			*err = fx_strdupf("unexpected argument \"%s\" (see --help)", a);
			return -EINVAL;
		}
		a += 2;
		eq = strchr(a, '=');
		flen = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < n; k++)
			if (!(tab[k].flags & FX_CONF_NO_FLAG) && flag_matches(tab[k].name, a, flen))
				s = &tab[k];
		if (s == NULL) {
			*err = fx_strdupf("unknown flag \"--%.*s\" (see --help)", (int)flen, a);
			return -EINVAL;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (s->type == FX_CONF_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			*err = fx_strdupf("flag \"--%s\" needs a value, %s", a, expected(s->type));
			return -EINVAL;
		}
		if (set_value(s, val, "flag", err) < 0)
			return -EINVAL;
	}
	if (rest != NULL)
		*rest = i;
	return 0;
}

void fx_conf_help(const struct fx_setting *tab, size_t n, FILE *out)
{
	fprintf(out, "%-22s %-10s %-10s %s\n", "SETTING (env)", "TYPE", "DEFAULT", "MEANING");
	for (size_t k = 0; k < n; k++) {
		const struct fx_setting *s = &tab[k];
		static const char *const types[] = {"string", "int", "bool", "duration", "size"};
		char flag[64];
		size_t j;

		for (j = 0; j < sizeof(flag) - 1 && s->name[j] != '\0'; j++)
			flag[j] =
			    s->name[j] == '_' ? '-' : (char)tolower((unsigned char)s->name[j]);
		flag[j] = '\0';
		fprintf(out, "%-22s %-10s %-10s %s", (s->flags & FX_CONF_NO_ENV) ? "-" : s->name,
		        types[s->type], s->def ? s->def : "-", s->help);
		if (!(s->flags & FX_CONF_NO_FLAG))
			fprintf(out, " [--%s]", flag);
		fputc('\n', out);
	}
}
