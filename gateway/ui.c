/* ui.c: the web UI's files, embedded into the binary at build time
 * (gateway/embed-ui.sh writes build/gen/ui_assets.c from the files in ui/). */
#include "gateway.h"

#include <string.h>

const struct gw_asset *gw_ui_find(const char *path, size_t len)
{
	if (len == 0) {
		path = "index.html";
		len = strlen(path);
	}
	if (memchr(path, '/', len) || memchr(path, '%', len) || (len >= 2 && path[0] == '.'))
		return NULL;
	for (size_t i = 0; i < gw_ui_nassets; i++)
		if (strlen(gw_ui_assets[i].name) == len &&
		    memcmp(gw_ui_assets[i].name, path, len) == 0)
			return &gw_ui_assets[i];
	return NULL;
}
