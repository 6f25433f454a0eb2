/* replay_main.c: main() for the replay build of a fuzz target. Feeds every
 * file named on the command line (directories: every regular file in them,
 * sorted) to LLVMFuzzerTestOneInput once, under the sanitizers of the build.
 * Prints "replayed N inputs" and exits 0; 1 when an input cannot be read or
 * nothing was replayed; a sanitizer or invariant failure aborts. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#define REPLAY_MAX (4u << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX + 1, f);
	fclose(f);
	if (n > REPLAY_MAX) {
		fprintf(stderr, "replay: %s: larger than %u bytes\n", path, REPLAY_MAX);
		free(buf);
		return -1;
	}
	/* An exact-size copy, so ASan sees any read past the input. */
	{
		uint8_t *exact = malloc(n ? n : 1);
		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	size_t done = 0;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **ents;
		int n;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == 0)
				done++;
			else
				bad = 1;
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];
			int w = snprintf(path, sizeof(path), "%s/%s", argv[i], ents[j]->d_name);
			if (w > 0 && (size_t)w < sizeof(path) && stat(path, &st) == 0 &&
			    S_ISREG(st.st_mode)) {
				if (replay_file(path) == 0)
					done++;
				else
					bad = 1;
			}
			free(ents[j]);
		}
		free(ents);
	}
	printf("replayed %zu inputs\n", done);
	return bad || done == 0 ? 1 : 0;
}
